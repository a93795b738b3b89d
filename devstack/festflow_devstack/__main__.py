from festflow_devstack.cli import main

raise SystemExit(main())
