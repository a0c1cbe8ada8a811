import factory

from marketplace.models import User
from marketplace.services import user_email_mark_verified


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    wants_to_hire = True
    wants_to_work = False
    timezone = "UTC"
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def email_verified(user, create, extracted, **kwargs):
        """Verified by default (what every feature but sign-up needs); `email_verified=False` for a new account."""
        if create and extracted is not False:
            user_email_mark_verified(user=user)


class FreelancerFactory(UserFactory):
    wants_to_hire = False
    wants_to_work = True
