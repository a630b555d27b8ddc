"""The form fields render exactly as stock WTForms renders them.

app/forms.py renders inputs and labels without WTForms' html_params (its
str.format through markupsafe cost a fifth of the sign-in page). These tests
pin the HTML: the same attributes, order, escaping and accessibility
attributes (aria-describedby, aria-invalid, required, autocomplete) as before.
"""

from __future__ import annotations

import re

import pytest
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import widgets

from app import forms
from app.auth.forms import LoginForm, RegisterForm, ResetRequestForm
from app.dashboard.forms import ChangePasswordForm, ConfirmPasswordForm, DeleteAccountForm
from app.forms import NewPasswordForm
from tests.support.auth import csrf_token

HOSTILE = [
    "",
    "plain",
    'a "quoted" value',
    "<script>alert('x')</script>",
    "&amp; &lt; already escaped?",
    "tab\tnew\nline",
    "ünïcödé ✓",
    Markup('<b class="x">markup</b>'),
    Markup("a &amp; b"),
    0,
    254,
    None,
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_html_params_matches_wtforms(value):
    kwargs = {
        "value": value,
        "id": "field",
        "aria_describedby": "field-hint field-error",
        "data_some_thing": value,
        "class_": "x",
        "for_": "y",
        "required": True,
        "disabled": False,
    }
    ours = forms.html_params(**kwargs)
    assert isinstance(ours, Markup)
    assert ours == widgets.html_params(**kwargs)


def test_html_params_with_nothing_and_only_booleans():
    assert forms.html_params() == widgets.html_params() == ""
    assert forms.html_params(b=True, a=True, c=False) == widgets.html_params(b=True, a=True, c=False)


FORMS = [
    LoginForm,
    RegisterForm,
    ResetRequestForm,
    ConfirmPasswordForm,
    DeleteAccountForm,
]


def _stock(field, **kwargs):
    """What WTForms itself renders for this field, whatever widget the app gave it."""
    widget_class = next(cls for cls in type(field.widget).__mro__ if cls.__module__ == widgets.core.__name__)
    if widget_class is widgets.PasswordInput:
        stock = widgets.PasswordInput(hide_value=field.widget.hide_value)
    else:
        stock = widget_class()
    # As Meta.render_field passes them: keys cleaned (aria_x -> aria-x) before the widget sorts them.
    return stock(field, **{widgets.core.clean_key(k): v for k, v in kwargs.items()})


@pytest.mark.parametrize(
    "form_class", [*FORMS, ChangePasswordForm, NewPasswordForm], ids=lambda c: c.__name__
)
@pytest.mark.parametrize("value", HOSTILE[:7], ids=repr)
def test_every_field_renders_as_stock_wtforms(app, form_class, value):
    data = {"login": value, "username": value, "email": value, "password": value, "remember_me": "y"}
    with app.test_request_context("/", method="POST", data={k: str(v) for k, v in data.items()}):
        form = form_class(None) if form_class in (ChangePasswordForm, NewPasswordForm) else form_class()
        form.validate()
        for field in form:
            attrs = {
                "autocomplete": "username",
                "aria_describedby": f"{field.id}-error",
                "aria-invalid": "true",
            }
            assert field(**attrs) == _stock(field, **attrs), field.name
            assert field() == _stock(field), field.name
            assert field.label() == widgets.core.Markup(
                f'<label for="{field.id}">{Markup.escape(field.label.text)}</label>'
            )
            assert str(field.label) == field.label()


def test_hidden_tag_still_finds_the_csrf_field(app):
    with app.test_request_context("/"):
        form = LoginForm()
        hidden = form.hidden_tag()
        assert re.fullmatch(r'<input id="csrf_token" name="csrf_token" type="hidden" value="[^"]+">', hidden)


def test_sign_in_page_fields_are_unchanged(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<label for="login">Username or e-mail address</label>' in page
    assert (
        '<input autocomplete="username" id="login" maxlength="254" name="login" required type="text" '
        'value="">' in page
    )
    assert '<label for="password">Password</label>' in page
    assert (
        '<input autocomplete="current-password" id="password" maxlength="512" name="password" required '
        'type="password" value="">' in page
    )
    assert (
        '<input id="remember_me" name="remember_me" type="checkbox" value="y"> '
        '<label for="remember_me">Keep me signed in on this device</label>' in page
    )
    assert re.search(r'<input id="csrf_token" name="csrf_token" type="hidden" value="[^"]+">', page)


def test_register_page_ties_hints_and_errors_to_fields(client):
    page = client.get("/auth/register").get_data(as_text=True)
    assert (
        '<input aria-describedby="username-hint" autocomplete="username" id="username" maxlength="32" '
        'minlength="3" name="username" required type="text" value="">' in page
    )
    assert (
        '<input autocomplete="email" id="email" maxlength="254" name="email" required type="email" value="">'
        in page
    )
    data = {
        "csrf_token": csrf_token(page),
        "username": '"><x',
        "email": "not-an-address",
        "password": "short",
        "confirm_password": "other",
    }
    page = client.post("/auth/register", data=data).get_data(as_text=True)
    assert (
        '<input aria-describedby="username-hint username-error" aria-invalid="true" autocomplete="username" '
        'id="username" maxlength="32" minlength="3" name="username" required type="text" '
        'value="&#34;&gt;&lt;x">' in page
    )
    assert '<ul class="errors" id="username-error">' in page
    # A password is never sent back.
    assert (
        '<input aria-describedby="password-hint password-error" aria-invalid="true" '
        'autocomplete="new-password" id="password" name="password" required type="password" value="">' in page
    )


def _every_form_class() -> list[type]:
    """Every form class the app defines, found, not listed: a new one cannot be missed."""
    import app.mfa.forms  # noqa: F401 - the blueprints' form modules, imported for their classes

    found, todo = [], [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("app.") and sub is not forms.AppForm:
                found.append(sub)
    return sorted(set(found), key=lambda c: c.__name__)


def test_every_form_the_app_defines_is_an_app_form():
    classes = _every_form_class()
    assert {*FORMS, ChangePasswordForm} <= set(classes)
    assert [c.__name__ for c in classes if not issubclass(c, forms.AppForm)] == []


@pytest.mark.parametrize("form_class", [*FORMS, ChangePasswordForm], ids=lambda c: c.__name__)
def test_every_form_renders_its_fields_with_the_app_html_params(app, form_class):
    assert issubclass(form_class, forms.AppForm)
    with app.test_request_context("/"):
        form = form_class(None) if form_class is ChangePasswordForm else form_class()
        for field in form:
            assert field.widget.html_params is forms.html_params, field.name
            assert isinstance(field.label, forms._Label), field.name
