"""How dates, moments, places, money and API refusals are shown to people: one way everywhere."""
from datetime import UTC, datetime

from festflow_runtime import display
from festflow_runtime.api_answers import field_errors, reasons


def test_date_ranges_say_only_what_is_needed():
    assert display.date_range("2027-07-16", "2027-07-16") == "Fri 16 July 2027"
    assert display.date_range("2027-07-16", "2027-07-18") == "Fri 16 - Sun 18 July 2027"
    assert display.date_range("2027-07-30", "2027-08-01") == "Fri 30 July - Sun 1 August 2027"
    assert display.date_range("2027-12-31", "2028-01-02") == "Fri 31 December 2027 - Sun 2 January 2028"
    assert display.date_range("2027-07-16", "") == "Fri 16 July 2027"
    assert display.date_range("", "") == ""


def test_a_moment_is_shown_in_utc_and_rewritten_by_the_page_in_the_buyers_zone():
    assert display.moment("2027-03-01T10:00Z") == "01 Mar 2027, 10:00 UTC"
    assert display.moment("2027-03-01T12:00:00+02:00") == "01 Mar 2027, 10:00 UTC"
    assert display.moment("soon") == "soon" and display.moment(None) == ""
    assert str(display.when("2027-03-01T10:00Z")) == \
        '<time datetime="2027-03-01T10:00:00Z" data-local>01 Mar 2027, 10:00 UTC</time>'
    assert str(display.when("<b>")) == "&lt;b&gt;"


def test_a_place_names_the_venue_once_and_money_is_in_euros():
    assert display.place("Riverside Park", "Riverside Park, 1 Festival Way") == "Riverside Park, 1 Festival Way"
    assert display.place("Riverside Park", "1 Festival Way") == "Riverside Park, 1 Festival Way"
    assert display.place("", "") == "" and display.place(None, "Road 1") == "Road 1"
    assert display.money(8900) == "€89.00" and display.money(None) == ""


def test_validation_lists_become_readable_reasons():
    body = {"detail": [{"loc": ["body", "price"], "msg": "Value error, price may have at most two decimals"},
                       {"loc": ["body", "stock"], "msg": "Input should be a valid integer"}]}
    assert reasons(body) == ["price may have at most two decimals", "stock: Input should be a valid integer"]
    assert reasons({"detail": "stock changed, reload"}) == ["stock changed, reload"]
    assert reasons("not json") == ["something went wrong"]


def test_a_refusal_becomes_a_sentence_beside_the_field_it_concerns():
    validation = {"detail": [{"loc": ["body", "email"], "msg": "value is not a valid email address"},
                             {"loc": ["body", "password"], "msg": "Value error, password: use at least 12 signs"}]}
    assert field_errors(validation) == {"email": "Value is not a valid email address.",
                                        "password": "Use at least 12 signs."}
    assert field_errors({"detail": "that name is taken", "field": "username"}) == {"username": "That name is taken."}
    festival = ("name", "starts_on", "ends_on")
    assert field_errors({"detail": [{"loc": ["body"], "msg": "Value error, ends_on: cannot end before it starts"}]},
                        festival) == {"ends_on": "Cannot end before it starts."}
    assert field_errors({"detail": "the inventory is away"}, festival) == {"form": "The inventory is away."}
    assert field_errors({"detail": [{"loc": ["body", "colour"], "msg": "unknown"}]}, festival) == {"form": "Unknown."}
    assert field_errors({}) == {"form": "That did not work; try again in a moment."}


def test_a_countdown_says_days_hours_then_minutes_and_seconds_left():
    now = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    assert display.time_left("2027-03-06T11:00:00.000Z", now) == "5 days 1 h left"
    assert display.time_left("2027-03-02T10:00:00Z", now) == "1 day 0 h left"
    assert display.time_left("2027-03-01T12:05:00Z", now) == "2 h 5 min left"
    assert display.time_left("2027-03-01T10:14:09Z", now) == "14 min 09 s left"
    assert display.time_left("2027-03-01T10:00:00Z", now) == "time is up"
    assert display.time_left("not a time", now) == "" and display.time_left(None) == ""
