import click


@click.command("publish")
def publish_command():
    """Not yet."""
