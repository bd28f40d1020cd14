"""service health check settings and status detail

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service") as b:
        b.add_column(sa.Column("status_detail", sa.String(), nullable=True))
        b.add_column(sa.Column("health_type", sa.String(), nullable=False, server_default="http"))
        b.add_column(sa.Column("health_path", sa.String(), nullable=False, server_default=""))
        b.add_column(sa.Column("health_interval", sa.Float(), nullable=False, server_default="0.5"))
        b.add_column(sa.Column("health_timeout", sa.Float(), nullable=False, server_default="2.0"))
        b.add_column(sa.Column("health_start_period", sa.Float(), nullable=True))
        b.add_column(sa.Column("health_retries", sa.Integer(), nullable=False, server_default="3"))


def downgrade() -> None:
    with op.batch_alter_table("service") as b:
        for col in ("health_retries", "health_start_period", "health_timeout", "health_interval",
                    "health_path", "health_type", "status_detail"):
            b.drop_column(col)
