from assistant.tools import tool

@tool
def oops(x: int) -> int
    return x
