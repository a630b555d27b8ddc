from conftest import PASSWORD


def test_register_login_dashboard_logout(client, auth):
    response = auth.register()
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    response = auth.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Welcome, alice" in page.get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert client.get("/dashboard").status_code == 302
    assert PASSWORD
