def test_it_serves_the_login_screen(page, live_app, shot):
    page.goto(live_app.url + "/login")
    page.wait_for_selector("text=Rubberduck")
    assert "Rubberduck" in page.title()
    shot()
