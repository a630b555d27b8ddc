from ..forms import AppForm, NewPasswordForm, password_field


class ChangePasswordForm(NewPasswordForm):
    current_password = password_field("Current password", "Enter your current password.")


class DeleteAccountForm(AppForm):
    password = password_field("Password", "Enter your password to confirm.")


class ConfirmPasswordForm(AppForm):
    """The account's password again, before ending other sessions (ASVS 7.5.2)."""

    password = password_field("Your password", "Enter your password to confirm.")
