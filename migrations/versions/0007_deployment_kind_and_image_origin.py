"""what a deployment is (a build, a rollback, a redeploy) and which build made its image

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployment") as b:
        b.add_column(sa.Column("kind", sa.String(), nullable=True))
        b.add_column(sa.Column("image_origin_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployment") as b:
        b.drop_column("image_origin_id")
        b.drop_column("kind")
