"""The audits keep hold, payment and wallet-line figures too (AuditedHold, AuditedIntent, AuditedWalletDifference),
and read the new wallet lines and holds by id as they read the new postings (AuditMark and AuditGap by `rows`). What
earlier audits kept is forgotten, so the next audit sums everything again and makes the new figures with the rest.
Wallet lines become append-only in the database too (only new lines can change what the audit compared)."""

import django.db.models.deletion
from django.db import migrations, models

from marketplace.appendonly import append_only_triggers


def forget_kept_figures(apps, schema_editor):
    for name in ("AuditedEntry", "AuditedBalance", "AuditGap", "AuditMark"):
        apps.get_model("escrow", name).objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('escrow', '0010_audit_runs'),
    ]

    operations = [
        migrations.RunPython(forget_kept_figures, migrations.RunPython.noop),
        append_only_triggers("escrow_walletline_append_only", ["escrow_walletline"]),
        migrations.CreateModel(
            name='AuditedHold',
            fields=[
                ('hold', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='escrow.hold')),
                ('reference', models.CharField(max_length=200)),
                ('amount', models.DecimalField(decimal_places=2, max_digits=14)),
                ('funds', models.IntegerField(help_text='Funding entries.')),
                ('ends', models.IntegerField(help_text='Releases and settlements.')),
                ('funded', models.DecimalField(decimal_places=2, help_text='Put in escrow by its funding entries.', max_digits=20)),
                ('left_early', models.DecimalField(decimal_places=2, help_text='Taken out of escrow by refunds and partial releases.', max_digits=20)),
                ('paid', models.IntegerField(help_text='Releases, and settlements that paid the payee something.')),
                ('balance', models.DecimalField(decimal_places=2, help_text='Of its escrow account.', max_digits=20)),
            ],
        ),
        migrations.CreateModel(
            name='AuditedIntent',
            fields=[
                ('intent', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='escrow.paymentintent')),
                ('charges', models.IntegerField(help_text='Card payment entries.')),
                ('charged', models.DecimalField(decimal_places=2, help_text='Taken from the gateway by its card payment entries.', max_digits=20)),
                ('refunds', models.IntegerField(help_text='Card refund and settlement entries.')),
                ('refunded', models.DecimalField(decimal_places=2, help_text='Given back to the gateway by those.', max_digits=20)),
                ('paid', models.IntegerField(help_text='Funding and bonus entries.')),
            ],
        ),
        migrations.CreateModel(
            name='AuditedWalletDifference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_id', models.BigIntegerField(db_index=True)),
                ('user_id', models.BigIntegerField()),
                ('problem', models.CharField(choices=[('missing', 'Missing'), ('extra', 'Left over')], max_length=10)),
            ],
        ),
        migrations.AddField(
            model_name='auditgap',
            name='rows',
            field=models.CharField(choices=[('postings', 'Postings'), ('wallet_lines', 'Wallet lines'), ('holds', 'Holds'), ('entries', 'Entries')], default='postings', max_length=20),
        ),
        migrations.AddField(
            model_name='auditmark',
            name='rows',
            field=models.CharField(choices=[('postings', 'Postings'), ('wallet_lines', 'Wallet lines'), ('holds', 'Holds'), ('entries', 'Entries')], default='postings', max_length=20, unique=True),
        ),
        migrations.AlterField(
            model_name='auditedbalance',
            name='account',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='escrow.account'),
        ),
        migrations.AlterField(
            model_name='auditedentry',
            name='entry',
            field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='escrow.entry'),
        ),
        migrations.AlterField(
            model_name='auditedentry',
            name='hold_id',
            field=models.BigIntegerField(db_index=True, null=True),
        ),
        migrations.AlterField(
            model_name='auditedentry',
            name='intent_id',
            field=models.BigIntegerField(db_index=True, null=True),
        ),
        migrations.AddIndex(
            model_name='auditedentry',
            index=models.Index(condition=models.Q(models.Q(('total', 0), _negated=True), ('legs__lt', 2), _connector='OR'), fields=['entry'], name='escrow_auditedentry_problems'),
        ),
        migrations.AddIndex(
            model_name='auditedhold',
            index=models.Index(condition=models.Q(models.Q(('funds', 1), _negated=True), ('ends__gt', 1), models.Q(('ends__gt', 0), models.Q(('balance', 0), _negated=True)), models.Q(models.Q(('funded', 0), _negated=True), models.Q(('funded', models.F('amount')), _negated=True)), _connector='OR'), fields=['hold'], name='escrow_auditedhold_problems'),
        ),
    ]
