-- One database per service that owns data; the default database (orders) is created by the image.
CREATE DATABASE inventory OWNER festflow;
CREATE DATABASE ticketing OWNER festflow;
CREATE DATABASE payments OWNER festflow;
CREATE DATABASE waiting_room OWNER festflow;
