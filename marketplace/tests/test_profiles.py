"""Freelancer profiles (service, form, edit page) and the public freelancer directory."""

import datetime

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.forms import ProfileForm
from marketplace.models import Profile
from marketplace.selectors import freelancer_get, freelancer_list
from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


def give_profile(user, *, headline="", bio="", location="", skills=()):
    return profile_update(user=user, headline=headline, bio=bio, location=location, skills=list(skills))


def listed(**fields):
    """A freelancer with the least a directory listing needs: a headline."""
    freelancer = FreelancerFactory(**fields)
    give_profile(freelancer, headline="Freelancer")
    return freelancer


def names_on_page(response):
    return [freelancer.name for freelancer in response.context["page"]]


# --- profile_update -------------------------------------------------------------------------------------------------


def test_profile_update_creates_the_missing_profile_with_normalised_skills(freelancer):
    # given a freelancer who never saved a profile
    assert not Profile.objects.filter(user=freelancer).exists()

    # when they save one with messy skills
    profile = profile_update(
        user=freelancer,
        headline="  Django developer ",
        bio="Line one\nLine two",
        location=" Lisbon ",
        skills=["  Python", "DJANGO", "python", "", "  ", "Machine   Learning"],
    )

    # then the skills are stripped, lower-case, de-duplicated and keep the typed order
    profile.refresh_from_db()
    assert profile.user == freelancer
    assert (profile.headline, profile.bio, profile.location) == ("Django developer", "Line one\nLine two", "Lisbon")
    assert list(profile.skills.names()) == ["python", "django", "machine learning"]


def test_profile_update_replaces_the_previous_profile(freelancer):
    # given a saved profile
    give_profile(freelancer, headline="Old", skills=["cobol", "python"])

    # when it is saved again
    profile_update(user=freelancer, headline="New", bio="", location="", skills=["rust", "python"])

    # then there is still one profile, with only the new skills in the new order
    profile = Profile.objects.get(user=freelancer)
    assert profile.headline == "New"
    assert list(profile.skills.names()) == ["rust", "python"]


@pytest.mark.parametrize(
    "skills",
    [[f"skill {n}" for n in range(21)], ["x" * 51]],
    ids=["21 skills", "a 51-character skill"],
)
def test_profile_update_refuses_skills_over_the_limits(freelancer, skills):
    with pytest.raises(ValidationError):
        profile_update(user=freelancer, headline="", bio="", location="", skills=skills)

    assert not Profile.objects.filter(user=freelancer).exists()  # nothing half-written


def test_profile_update_accepts_exactly_the_limits(freelancer):
    skills = [f"{n:02d}" + "x" * 48 for n in range(20)]

    profile = profile_update(user=freelancer, headline="", bio="", location="", skills=skills)

    assert profile.skills.count() == 20


# --- ProfileForm ----------------------------------------------------------------------------------------------------


def test_profile_form_splits_and_normalises_comma_separated_skills():
    form = ProfileForm({"headline": "", "bio": "", "location": "", "skills": " Python, django ,PYTHON,, htmx "})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["skills"] == ["python", "django", "htmx"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"skills": ", ".join(f"skill{n}" for n in range(21))}, "skills", "List at most 20 skills; you entered 21."),
        ({"skills": "python, " + "x" * 51}, "skills", "Each skill can be at most 50 characters"),
        ({"bio": "x" * 5001}, "bio", "Ensure this value has at most 5000 characters"),
        ({"headline": "x" * 121}, "headline", "Ensure this value has at most 120 characters"),
        ({"location": "x" * 101}, "location", "Ensure this value has at most 100 characters"),
    ],
)
def test_profile_form_explains_what_is_wrong(data, field, message):
    form = ProfileForm({"headline": "", "bio": "", "location": "", "skills": "", **data})

    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


# --- the edit page --------------------------------------------------------------------------------------------------


def test_profile_edit_requires_login(client):
    response = client.get(reverse("profile_edit"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_profile_edit_saves_and_redirects_to_the_public_profile(client, freelancer):
    client.force_login(freelancer)

    response = client.post(
        reverse("profile_edit"),
        {"headline": "Django developer", "bio": "Hello", "location": "Lisbon", "skills": "Python, Django"},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("freelancer_detail", args=[freelancer.pk]), 302)]
    assert "Your profile was saved." in response.content.decode()
    profile = Profile.objects.get(user=freelancer)
    assert profile.headline == "Django developer"
    assert list(profile.skills.names()) == ["python", "django"]


def test_profile_edit_shows_the_saved_profile(client, freelancer):
    give_profile(freelancer, headline="Django developer", bio="Hello", location="Lisbon", skills=["python", "htmx"])
    client.force_login(freelancer)

    form = client.get(reverse("profile_edit")).context["form"]

    assert form.initial == {
        "headline": "Django developer",
        "bio": "Hello",
        "location": "Lisbon",
        "skills": "python, htmx",
    }


def test_profile_edit_with_bad_input_shows_the_error_next_to_the_field_and_keeps_the_input(client, freelancer):
    client.force_login(freelancer)
    too_many = ", ".join(f"skill{n}" for n in range(25))

    response = client.post(reverse("profile_edit"), {"headline": "Kept headline", "bio": "", "skills": too_many})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error_1_id_skills"' in body
    assert "List at most 20 skills; you entered 25." in body
    assert 'value="Kept headline"' in body
    assert f'value="{too_many}"' in body
    assert "Comma-separated, e.g. python, django, copywriting" in body
    assert not Profile.objects.filter(user=freelancer).exists()


def test_a_client_can_edit_a_profile_and_is_told_it_is_not_listed(client, client_user):
    # given a user who only hires
    client.force_login(client_user)

    # then the page says where to turn the directory listing on
    page = client.get(reverse("profile_edit")).content.decode()
    assert "only appears in the freelancer directory when “Work as a freelancer” is on" in page
    assert reverse("account_settings") in page

    # and saving stays on the edit page (there is no public profile page to show)
    response = client.post(reverse("profile_edit"), {"headline": "Sometimes I work", "bio": "", "skills": ""})
    assert response.status_code == 302
    assert response.url == reverse("profile_edit")
    assert Profile.objects.get(user=client_user).headline == "Sometimes I work"


# --- selectors ------------------------------------------------------------------------------------------------------


def test_freelancer_list_has_only_active_freelancers_ordered_by_name():
    listed(name="Zoe")
    listed(name="Adam")
    give_profile(UserFactory(name="Clara Client"), headline="Client")
    listed(name="Ivan Inactive", is_active=False)
    give_profile(UserFactory(name="Both Ways", wants_to_work=True, wants_to_hire=True), headline="Both")
    FreelancerFactory(name="Nora No Headline")  # an empty profile is not listed

    assert [user.name for user in freelancer_list()] == ["Adam", "Both Ways", "Zoe"]


def test_freelancer_list_lists_a_freelancer_once_when_several_skills_match():
    felix = FreelancerFactory(name="Felix")
    give_profile(felix, headline="Python person", skills=["python", "python scripting", "micropython"])

    assert list(freelancer_list(query="python")) == [felix]


def test_freelancer_get_404s_for_non_freelancers_and_unknown_ids(client_user, freelancer):
    assert freelancer_get(user_id=freelancer.pk) == freelancer
    for user_id in (client_user.pk, freelancer.pk + 1000):
        with pytest.raises(Http404):
            freelancer_get(user_id=user_id)


# --- the directory --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["ada", "LOVELACE", "  Ada Love  "])
def test_directory_finds_freelancers_by_name_in_any_case(client, query):
    listed(name="Ada Lovelace")
    listed(name="Grace Hopper")

    response = client.get(reverse("directory"), {"q": query})

    assert names_on_page(response) == ["Ada Lovelace"]


@pytest.mark.parametrize("query", ["django", "DJANGO", "Djan"])
def test_directory_finds_freelancers_by_skill_in_any_case(client, query):
    ada = FreelancerFactory(name="Ada Lovelace")
    give_profile(ada, headline="Mathematician", skills=["Python", "Django"])
    grace = FreelancerFactory(name="Grace Hopper")
    give_profile(grace, headline="Admiral", skills=["cobol"])

    response = client.get(reverse("directory"), {"q": query})

    assert names_on_page(response) == ["Ada Lovelace"]


def test_directory_finds_freelancers_by_headline(client):
    give_profile(FreelancerFactory(name="Ada Lovelace"), headline="Analytical engines")
    FreelancerFactory(name="Grace Hopper")

    response = client.get(reverse("directory"), {"q": "ENGINE"})

    assert names_on_page(response) == ["Ada Lovelace"]


def test_directory_card_shows_name_headline_skills_location_and_member_since(client):
    ada = FreelancerFactory(name="Ada Lovelace", date_joined=datetime.datetime(2024, 3, 15, 12, tzinfo=datetime.UTC))
    give_profile(ada, headline="Analytical engines", location="London, UK", skills=["maths", "poetry"])

    body = client.get(reverse("directory")).content.decode()

    assert f'href="{reverse("freelancer_detail", args=[ada.pk])}"' in body
    for text in ("Ada Lovelace", "Analytical engines", "London, UK", ">maths<", ">poetry<", "Member since March 2024"):
        assert text in body


def test_directory_leaves_out_freelancers_without_a_headline(client):
    FreelancerFactory(name="New Newton")
    give_profile(FreelancerFactory(name="Bio Only"), bio="I do things", skills=["python"])

    response = client.get(reverse("directory"))

    assert response.status_code == 200
    assert names_on_page(response) == []
    assert client.get(reverse("directory"), {"q": "python"}).context["page"].object_list == []


def test_directory_excludes_clients_and_inactive_freelancers(client):
    give_profile(UserFactory(name="Clara Client"), headline="python")
    give_profile(FreelancerFactory(name="Ivan Inactive", is_active=False), headline="python")

    response = client.get(reverse("directory"), {"q": "python"})

    assert names_on_page(response) == []
    body = response.content.decode()
    assert "Clara Client" not in body and "Ivan Inactive" not in body


def test_directory_pages_by_20_and_keeps_the_query_in_the_page_links(client):
    for n in range(25):
        give_profile(FreelancerFactory(name=f"Dev {n:02d}"), headline="Developer", skills=["python"])
    listed(name="Zed Without Skills")

    first = client.get(reverse("directory"), {"q": "python"})
    second = client.get(reverse("directory"), {"q": "python", "page": 2})

    assert len(names_on_page(first)) == 20
    assert names_on_page(second) == [f"Dev {n:02d}" for n in range(20, 25)]
    first_body = first.content.decode()
    assert 'aria-label="Pages of freelancers"' in first_body
    assert 'href="?q=python&amp;page=2" rel="next" aria-label="Next page"' in first_body
    second_body = second.content.decode()
    assert 'href="?q=python&amp;page=1"' in second_body
    assert 'aria-current="page"' in second_body
    assert 'value="python"' in second_body  # the search box keeps the query


def test_directory_out_of_range_page_shows_the_last_page(client):
    for n in range(21):
        listed(name=f"Dev {n:02d}")

    response = client.get(reverse("directory"), {"page": 99})

    assert names_on_page(response) == ["Dev 20"]


def test_directory_without_freelancers_says_so(client):
    body = client.get(reverse("directory")).content.decode()

    assert "No freelancers yet." in body
    assert 'aria-label="Pages of freelancers"' not in body


def test_directory_without_matches_suggests_a_skill(client, freelancer):
    body = client.get(reverse("directory"), {"q": "basket weaving"}).content.decode()

    assert "No freelancers match “basket weaving”." in body
    assert "Try a skill such as" in body
    assert 'href="/freelancers/?q=python"' in body


def test_directory_renders_a_page_in_a_constant_number_of_queries(client):
    def queries_for_directory():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("directory"))
        assert response.status_code == 200
        return len(queries), len(response.context["page"])

    for n in range(3):
        give_profile(FreelancerFactory(name=f"Dev {n:02d}"), headline="Developer", skills=["python", f"skill {n}"])
    three = queries_for_directory()

    for n in range(3, 15):
        give_profile(FreelancerFactory(name=f"Dev {n:02d}"), headline="Developer", skills=["python", f"skill {n}"])
    listed(name="Zed With A Headline Only")
    cache.clear()  # anonymous pages are cached for a minute; measure a fresh rendering
    sixteen = queries_for_directory()

    assert three[1] == 3 and sixteen[1] == 16
    # count, the page of users with profiles (and ratings), the skills of all of them, and their track records
    # (completed contracts, earnings: feedback.selectors.track_records)
    assert three[0] == sixteen[0]
    assert sixteen[0] == 5


def test_directory_results_are_shared_by_viewers_who_see_them_the_same_and_a_freelancer_sees_their_edit_at_once(
    client, client_user
):
    give_profile(FreelancerFactory(name="Dev One"), headline="Developer", skills=["python"])
    first = client.get(reverse("directory"), {"q": "python"})
    client.force_login(client_user)
    first_for_clients = client.get(reverse("directory"), {"q": "python"}).content.decode()
    give_profile(FreelancerFactory(name="Dev Two"), headline="Developer", skills=["python"])

    client.logout()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(reverse("directory"), {"q": "python"})
    assert len(queries) == 0  # count and rendered cards both come from the cache
    assert again.content.decode().count("Dev ") == first.content.decode().count("Dev ") == 1
    other_query = Client().get(reverse("directory"), {"q": "developer"}).content.decode()
    assert "Dev One" in other_query and "Dev Two" in other_query  # keyed by the query

    # Clients share theirs (each card has an invitation link): no queries for the results on a hit.
    another_client = UserFactory(wants_to_hire=True)
    client.force_login(another_client)
    for_clients = client.get(reverse("directory"), {"q": "python"}).content.decode()
    assert "Dev Two" not in for_clients and "Dev Two" not in first_for_clients
    assert "Invite Dev to a job" in for_clients

    # A freelancer's own copy: what they change on their profile shows on their next search.
    me = FreelancerFactory(name="Dev Three")
    give_profile(me, headline="Designer", skills=["figma"])
    card = f'href="{reverse("freelancer_detail", args=[me.pk])}"'
    client.force_login(me)
    assert card not in client.get(reverse("directory"), {"q": "python"}).content.decode()
    edit = {"headline": "Developer", "bio": "", "location": "", "skills": "python"}
    assert client.post(reverse("profile_edit"), edit).status_code == 302
    assert card in client.get(reverse("directory"), {"q": "python"}).content.decode()


def test_directory_query_count_does_not_grow_for_a_logged_in_search(client, client_user):
    client.force_login(client_user)

    def queries_for(count):
        for _ in range(count):
            give_profile(FreelancerFactory(), skills=["python", "django"])
        client.get(reverse("directory"), {"q": "python"})  # the header's counts are cached from then on
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("directory"), {"q": "python"})
        return len(queries)

    assert queries_for(3) == queries_for(12)


# --- the profile page -----------------------------------------------------------------------------------------------


def test_profile_page_shows_the_freelancer(client):
    ada = FreelancerFactory(
        name="Ada Lovelace",
        timezone="Europe/London",
        date_joined=datetime.datetime(2024, 3, 15, 12, tzinfo=datetime.UTC),
    )
    give_profile(
        ada, headline="Analytical engines", bio="First line\nSecond line", location="London, UK", skills=["maths"]
    )

    response = client.get(reverse("freelancer_detail", args=[ada.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Ada Lovelace", "Analytical engines", "First line<br>Second line", "London, UK", "Europe/London"):
        assert text in body
    assert "Member since March 2024" in body
    assert 'href="/freelancers/?q=maths"' in body


def test_profile_page_of_a_freelancer_without_a_profile(client, freelancer):
    response = client.get(reverse("freelancer_detail", args=[freelancer.pk]))

    assert response.status_code == 200
    assert "No skills listed yet." in response.content.decode()


def test_profile_page_404s_for_a_client_and_for_an_unknown_id(client, client_user, freelancer):
    assert client.get(reverse("freelancer_detail", args=[client_user.pk])).status_code == 404
    assert client.get(reverse("freelancer_detail", args=[freelancer.pk + 1000])).status_code == 404


def test_profile_page_escapes_what_the_freelancer_typed(client, freelancer):
    give_profile(freelancer, headline=XSS, bio=f"{XSS}\nbye", location=XSS, skills=[XSS])

    for url in (reverse("freelancer_detail", args=[freelancer.pk]), reverse("directory")):
        body = client.get(url).content.decode()
        assert XSS not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


OFFER_LINK = "Send an offer"


@pytest.mark.parametrize(
    ("viewer", "sees"),
    [
        ("anonymous", "Log in to send an offer"),
        ("client", OFFER_LINK),
        ("other freelancer", "choose “Hire freelancers” or “Both”"),
        ("the freelancer", "Edit your profile"),
    ],
)
def test_profile_page_offers_the_right_next_step(client, client_user, freelancer, viewer, sees):
    if viewer == "client":
        client.force_login(client_user)
    elif viewer == "other freelancer":
        client.force_login(FreelancerFactory())
    elif viewer == "the freelancer":
        client.force_login(freelancer)

    body = client.get(reverse("freelancer_detail", args=[freelancer.pk])).content.decode()

    assert sees in body
    offer_url = f"{reverse('contracts:offer_create')}?freelancer={freelancer.pk}"
    assert (offer_url in body) == (viewer == "client")
    assert (OFFER_LINK + "<" in body) == (viewer == "client")


def test_anonymous_visitor_is_sent_back_to_the_profile_after_logging_in(client, freelancer):
    url = reverse("freelancer_detail", args=[freelancer.pk])

    body = client.get(url).content.decode()

    assert f'href="{reverse("login")}?next=/freelancers/{freelancer.pk}/"' in body


def test_a_freelancer_who_also_hires_sees_no_offer_button_on_their_own_profile(client):
    both = UserFactory(wants_to_hire=True, wants_to_work=True)
    client.force_login(both)

    body = client.get(reverse("freelancer_detail", args=[both.pk])).content.decode()

    assert "Edit your profile" in body
    assert "offers/new/" not in body


def test_navigation_links_the_directory_for_everyone_and_the_profile_for_members(client, client_user):
    anonymous = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("directory")}">Find freelancers' in anonymous
    assert reverse("profile_edit") not in anonymous

    client.force_login(client_user)
    directory = client.get(reverse("directory")).content.decode()
    assert f'active" aria-current="page" href="{reverse("directory")}">Find freelancers' in directory
    assert f'href="{reverse("profile_edit")}">Your profile' in directory


# --- admin ----------------------------------------------------------------------------------------------------------


def test_staff_can_search_profiles_in_admin_and_open_one(client, freelancer):
    give_profile(freelancer, headline="Findable headline", skills=["python", "django"])
    give_profile(FreelancerFactory(name="Someone Else"), headline="Other")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    for query in ("felix@example.com", "Felix Free", "findable"):
        body = client.get(reverse("admin:marketplace_profile_changelist"), {"q": query}).content.decode()
        assert "Findable headline" in body and "python, django" in body
        assert "Someone Else" not in body
    profile = Profile.objects.get(user=freelancer)
    assert client.get(reverse("admin:marketplace_profile_change", args=[profile.pk])).status_code == 200
    assert client.get(reverse("admin:marketplace_profile_add")).status_code == 200
