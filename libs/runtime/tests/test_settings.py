"""The shared settings base: read from the environment once, working defaults, keys as text or file."""
import pytest

from festflow_runtime.settings import PlatformSettings


def test_fields_come_from_environment_variables_of_the_same_name(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("COOKIE_SECURE", "true")
    settings = PlatformSettings()
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.smtp_port == 2525 and settings.cookie_secure is True
    assert settings.order_api_url == "http://127.0.0.1:8000"  # untouched: the local default


def test_a_bad_value_is_a_clear_error_at_start_up(monkeypatch):
    monkeypatch.setenv("SMTP_PORT", "twenty-five")
    with pytest.raises(ValueError, match="smtp_port"):
        PlatformSettings()


def test_the_public_key_comes_as_text_or_from_a_file_and_is_required(tmp_path, monkeypatch):
    monkeypatch.delenv("JWT_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("JWT_PUBLIC_KEY_FILE", raising=False)
    with pytest.raises(RuntimeError, match="set JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE"):
        PlatformSettings().public_key_pem()
    key = tmp_path / "public.pem"
    key.write_text("PEM FROM FILE")
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", str(key))
    assert PlatformSettings().public_key_pem() == "PEM FROM FILE"
    assert PlatformSettings(jwt_public_key="PEM TEXT").public_key_pem() == "PEM TEXT"


def test_settings_cannot_change_after_start_up():
    settings = PlatformSettings()
    with pytest.raises(ValueError):
        settings.smtp_port = 1  # type: ignore[misc]


def test_a_deployment_refuses_to_start_with_a_default_or_missing_secret(monkeypatch):
    from typing import ClassVar

    class AppSettings(PlatformSettings):
        deployment_secrets: ClassVar[tuple[str, ...]] = ("internal_api_token",)
    monkeypatch.setenv("AMQP_URL", "amqp://festflow:change-me-rabbitmq@rabbitmq:5672/")
    assert AppSettings().festflow_env == "dev"  # the local run: its defaults are fine
    monkeypatch.setenv("FESTFLOW_ENV", "compose")
    with pytest.raises(ValueError, match="AMQP_URL, INTERNAL_API_TOKEN hold no secret of its own"):
        AppSettings()  # a placeholder password, and the app's own secret not set at all
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@rabbitmq:5672/")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "")
    with pytest.raises(ValueError, match="AMQP_URL, INTERNAL_API_TOKEN"):
        AppSettings()  # RabbitMQ's default account, and an empty token
    monkeypatch.setenv("AMQP_URL", "amqp://festflow:s3cret-from-the-vault@rabbitmq:5672/")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "another-s3cret")
    assert AppSettings().internal_api_token == "another-s3cret"
