"""encrypted environment variables

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "envvar",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id"), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value_enc", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("service_id", "key"),
    )
    op.create_index("ix_envvar_service_id", "envvar", ["service_id"])


def downgrade() -> None:
    op.drop_index("ix_envvar_service_id", "envvar")
    op.drop_table("envvar")
