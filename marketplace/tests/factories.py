import factory

from marketplace.models import User


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


class FreelancerFactory(UserFactory):
    wants_to_hire = False
    wants_to_work = True
