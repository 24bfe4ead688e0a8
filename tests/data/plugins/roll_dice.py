from assistant.tools import tool


@tool
def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
    """Roll dice and return each result.

    Args:
        sides: number of faces on each die
        count: how many dice to roll
    """
    import random

    return [random.randint(1, sides) for _ in range(count)]
