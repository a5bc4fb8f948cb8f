def test_it_shows_the_signed_in_user(api, user):
    body = api.get("/api/v1/me/").json()

    assert body == {
        "id": user.pk,
        "email": user.email,
        "name": "",
        "is_staff": False,
        "date_joined": body["date_joined"],
    }
    assert body["date_joined"].startswith(str(user.date_joined.year))


def test_it_renames_the_user_and_nothing_else(api, user):
    response = api.patch(
        "/api/v1/me/", {"name": "Ada Lovelace", "email": "x@example.com", "is_staff": True}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"
    user.refresh_from_db()
    assert (user.first_name, user.email, user.is_staff) == ("Ada Lovelace", "ada@example.com", False)


def test_it_needs_authentication(client, db):
    assert client.get("/api/v1/me/").status_code in (401, 403)
