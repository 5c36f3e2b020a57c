import click


@click.command("card")
def card_command():
    """Not yet."""
