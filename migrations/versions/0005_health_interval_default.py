"""running apps are health-checked every 5 s by default (0.5 s was the first-pass polling)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE service SET health_interval = 5 WHERE health_interval = 0.5")
    with op.batch_alter_table("service") as b:
        b.alter_column("health_interval", existing_type=sa.Float(), server_default="5")


def downgrade() -> None:
    with op.batch_alter_table("service") as b:
        b.alter_column("health_interval", existing_type=sa.Float(), server_default="0.5")
