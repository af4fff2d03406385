"""Mail written to files (no SMTP_HOST): reset codes are readable by the stack's user only."""
import stat
from email.message import EmailMessage

from maiascore.auth.mail import write_eml


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def message():
    mail = EmailMessage()
    mail["To"] = "someone@example.com"
    mail["Subject"] = "reset"
    mail.set_content("code 123456")
    return mail


def test_mail_files_are_private_to_the_stacks_user(tmp_path):
    directory = tmp_path / "var" / "mail"
    path = write_eml(message(), directory)
    assert mode(path) == 0o600
    assert mode(directory) == 0o700


def test_an_existing_open_mail_directory_is_closed(tmp_path):
    directory = tmp_path / "mail"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    path = write_eml(message(), directory)
    assert (mode(path), mode(directory)) == (0o600, 0o700)
