"""zero-config build settings, rollback, auto port, per-service limits

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service") as b:
        b.alter_column("container_port", existing_type=sa.Integer(), nullable=True)   # None: discover it
        b.add_column(sa.Column("builder", sa.String(), nullable=False, server_default="auto"))
        b.add_column(sa.Column("build_command", sa.String(), nullable=True))
        b.add_column(sa.Column("start_command", sa.String(), nullable=True))
        b.add_column(sa.Column("submodules", sa.Boolean(), nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("memory_mb", sa.Integer(), nullable=True))
        b.add_column(sa.Column("cpus", sa.Float(), nullable=True))
        b.add_column(sa.Column("pids", sa.Integer(), nullable=True))
    with op.batch_alter_table("deployment") as b:
        b.add_column(sa.Column("source_deployment_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("build_plan", sa.Text(), nullable=True))
        b.add_column(sa.Column("port", sa.Integer(), nullable=True))
        b.add_column(sa.Column("runs_as_root", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployment") as b:
        for col in ("runs_as_root", "port", "build_plan", "source_deployment_id"):
            b.drop_column(col)
    with op.batch_alter_table("service") as b:
        for col in ("pids", "cpus", "memory_mb", "submodules", "start_command", "build_command", "builder"):
            b.drop_column(col)
        b.alter_column("container_port", existing_type=sa.Integer(), nullable=False)
