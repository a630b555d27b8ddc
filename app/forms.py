"""The base of every form (AppForm) and the validators the blueprints' forms share."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from flask import Flask, request
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, widgets
from wtforms.fields.core import Label
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError
from wtforms.widgets.core import clean_key

from .security import PASSWORD_MAX_LENGTH, password_problems


def html_params(**kwargs: object) -> Markup:
    """wtforms.widgets.html_params, character for character, without its
    Markup.format per attribute (str.format through markupsafe's escaping
    formatter): that alone was a fifth of the sign-in page's time.

    Keys sorted, `class_`/`for_` and `aria_`/`data_` cleaned, True a bare
    attribute, False left out, every key and value escaped, and a '"' that a
    Markup value carries as it is becomes &quot;.
    """
    parts = []
    for key, value in sorted(kwargs.items()):
        name = escape(clean_key(key))
        if value is True:
            parts.append(name)
        elif value is not False:
            quoted = str(escape(value)).replace('"', "&quot;")
            parts.append(f'{name}="{quoted}"')
    # Every key and value escaped above.
    return Markup(" ".join(parts))  # noqa: S704  # nosec B704


class _FastParams:
    html_params = staticmethod(html_params)


class _TextInput(_FastParams, widgets.TextInput):
    pass


class _EmailInput(_FastParams, widgets.EmailInput):
    pass


class _PasswordInput(_FastParams, widgets.PasswordInput):
    pass


class _CheckboxInput(_FastParams, widgets.CheckboxInput):
    pass


class _HiddenInput(_FastParams, widgets.HiddenInput):
    pass


class _Label(Label):
    def __call__(self, text=None, **kwargs):
        if "for_" in kwargs:
            kwargs["for"] = kwargs.pop("for_")
        else:
            kwargs.setdefault("for", self.field_id)
        attributes = html_params(**kwargs)
        space = " " if attributes else ""
        label = f"<label{space}{attributes}>{escape(text or self.text)}</label>"
        return Markup(label)  # noqa: S704  # nosec B704 - attributes and text escaped


# The default widget of each field class the app uses (the CSRF token field's
# is HiddenField's), and the same widget rendering with html_params above. A
# field given a widget of its own keeps it.
_FAST_WIDGETS = {
    StringField.widget: _TextInput(),
    EmailField.widget: _EmailInput(),
    PasswordField.widget: _PasswordInput(),
    BooleanField.widget: _CheckboxInput(),
    HiddenField.widget: _HiddenInput(),
}


class AppForm(FlaskForm):
    """Every form of the app: Flask-WTF's, with fields rendered by html_params
    above (the same HTML as WTForms')."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            widget = _FAST_WIDGETS.get(getattr(unbound_field.field_class, "widget", None))
            if widget is not None and "widget" not in unbound_field.kwargs:
                options = {**options, "widget": widget}
            field = super().bind_field(form, unbound_field, options)
            field.label = _Label(field.label.field_id, field.label.text)
            return field


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(form, field) -> None:
    """Refuse NUL and other control characters before any query sees them.

    psycopg2 refuses NUL bytes outright and SQLite stores them: both are
    better answered with a form error.
    """
    if isinstance(field.data, str) and _CONTROL.search(field.data):
        raise ValidationError("Remove the invisible control characters from this field.")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_email(form, field) -> None:
    """Validate the address's syntax (no DNS lookups) and store it lower-case."""
    try:
        result = validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"Enter a valid e-mail address ({exc}).") from None
    field.data = result.normalized.lower()


class PasswordPolicy:
    """Applies security.password_problems, naming the account's username and
    e-mail so the password cannot contain them."""

    def __init__(self, username_field: str | None = None, email_field: str | None = None):
        self.username_field = username_field
        self.email_field = email_field

    def __call__(self, form, field) -> None:
        username = getattr(form, self.username_field).data if self.username_field else ""
        email = getattr(form, self.email_field).data if self.email_field else ""
        user = getattr(form, "user", None)
        if user is not None:
            username, email = user.username, user.email
        problems = password_problems(field.data or "", username=username or "", email=email or "")
        if problems:
            raise ValidationError(" ".join(problems))


# --- the fields the blueprints' forms share ----------------------------------------------------------


def text_field(label: str, required, max_length: int, *more, too_long: str = "", field_class=StringField):
    """A one-line field, stripped, of at most max_length characters and no
    control characters; required is its first validator (DataRequired with its
    message, or Optional()), more run after the others."""
    return field_class(
        label,
        filters=[strip],
        validators=[
            required,
            Length(max=max_length, message=too_long or f"Use at most {max_length} characters."),
            no_control_characters,
            *more,
        ],
    )


def email_field(required_message: str) -> EmailField:
    """An e-mail address, stored lower-case once its syntax is valid."""
    return text_field(
        "E-mail address", DataRequired(message=required_message), 254, normalize_email, field_class=EmailField
    )


def password_field(label: str, required_message: str) -> PasswordField:
    """An existing password, typed to prove who one is: checked against its
    hash, never against the policy, but bounded so no huge value reaches the hasher."""
    return PasswordField(
        label,
        validators=[
            DataRequired(message=required_message),
            Length(max=PASSWORD_MAX_LENGTH * 4, message="That password is too long."),
        ],
    )


def new_password_pair(
    label: str, required_message: str, name: str, **policy
) -> tuple[PasswordField, PasswordField]:
    """A password being chosen (name is its field's) and its confirmation:
    the policy applies to the first, the second must repeat it. policy names
    the form's username and e-mail fields, if it has them."""
    new = PasswordField(
        label,
        validators=[DataRequired(message=required_message), no_control_characters, PasswordPolicy(**policy)],
    )
    confirm = PasswordField(
        f"Confirm {label.lower()}",
        validators=[
            DataRequired(message=f"Repeat the {label.lower()}."),
            EqualTo(name, message="The passwords do not match."),
        ],
    )
    return new, confirm


class NewPasswordForm(AppForm):
    """A new password for an existing account, typed twice; the policy keeps
    the account's username and address out of it."""

    new_password, confirm_password = new_password_pair(
        "New password", "Choose a new password.", "new_password"
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


# What the app's HTML forms send. Flask-WTF would also feed a JSON body (any
# JSON type as a value) or a file part to the form, and the validators expect
# strings: refused here, before any form sees them.
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
NOT_A_FORM = "This address accepts only the fields of its HTML form: no JSON, no files."


def refuse_non_form_bodies():
    """400 for a POST whose body is not a plain HTML form (an empty body passes)."""
    if request.method != "POST":
        return None
    if request.mimetype in FORM_MIMETYPES:
        if not request.files:
            return None
    elif not request.mimetype and not request.content_length:
        return None
    from .errors import render_error
    from .events import emit

    emit("security.bad_form_body", path=request.path, mimetype=request.mimetype[:100])
    return render_error(400, NOT_A_FORM)


def init_app(app: Flask) -> None:
    app.before_request(refuse_non_form_bodies)
