"""Built-in tool: safe arithmetic. The expression is parsed with `ast` and only numbers, + - * / // % **,
unary minus and a few math functions are evaluated: never eval(), and with limits on size and work."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable

from assistant.tools import tool

MAX_CHARS = 300  # longer input is not something anyone says out loud
MAX_NODES = 120  # parsed tree size, so the work stays tiny
MAX_DEPTH = 40
MAX_BITS = 1000  # integers up to about 10**300
MAX_FACTORIAL = 150

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _factorial(n: float) -> int:
    if not float(n).is_integer() or not 0 <= n <= MAX_FACTORIAL:
        raise ValueError(f"factorial needs a whole number from 0 to {MAX_FACTORIAL}")
    return math.factorial(int(n))


FUNCTIONS: dict[str, Callable[..., float | int]] = {
    "sqrt": math.sqrt, "cbrt": math.cbrt, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
    "exp": math.exp, "ln": math.log, "log": math.log, "log10": math.log10, "log2": math.log2,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "degrees": math.degrees, "radians": math.radians, "factorial": _factorial,
    "min": min, "max": max,
}  # fmt: skip

# Spoken and typed forms -> Python syntax, applied in this order (the text is lower-cased first).
_SYMBOLS = {"×": "*", "·": "*", "∗": "*", "÷": "/", "−": "-", "–": "-", "—": "-", "^": "**", "²": "**2",
            "³": "**3", "π": "pi", "√": " sqrt "}  # fmt: skip
_FILLER = re.compile(
    r"\b(what is|what's|whats|how much is|calculate|compute|evaluate|work out|please|the|equals|equal to)\b"
)
# "%" right before another number is modulo ("10 % 3"); otherwise it, and the word, mean percent.
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(?:%(?!\s*[\d(.])|percent\b|per cent\b)")
_ROOT = re.compile(r"\b(square root|cube root|sqrt|cbrt)\s*(?:of\s*)?(\d+(?:\.\d+)?|\.\d+|\()")
_WORDS = [
    (r"\b(?:raised )?to (?:a |an )?power of\b", "**"),
    (r"\braised to\b", "**"),
    (r"\bsquared\b", "**2"),
    (r"\bcubed\b", "**3"),
    (r"\bmultiplied by\b|\btimes\b", "*"),
    (r"\bdivided by\b|\bover\b", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b|\bnegative\b", "-"),
    (r"\bmod(?:ulo)?\b", "%"),
    (r"\bof\b", "*"),  # after percent and roots: "15% of 80" -> (15/100) * 80
    (r"(?<=[\d).])\s*x\s*(?=[\d(.])", "*"),  # "3 x 4"
    (r"(?<=[\d)])\s*\(", "*("),  # "2(3+4)" and ")(" mean multiplication
    (r"(?<=\d),(?=\d{3}(?!\d))", ""),  # thousands separators: 1,024
]
_ALLOWED_CHARS = re.compile(r"[0-9a-z_.+\-*/%(),\s]*")


def normalize(expression: str) -> str:
    """Turn '15 percent of 80', '√144', '17 × 23' or '2 to the power of 10' into Python arithmetic."""
    text = expression.lower().strip().rstrip("?=!. ")
    for symbol, python in _SYMBOLS.items():
        text = text.replace(symbol, python)
    text = " ".join(_FILLER.sub(" ", text).split())
    text = _PERCENT.sub(r"(\1/100)", text)
    text = _ROOT.sub(lambda m: _root(m.group(1), m.group(2)), text)
    for pattern, python in _WORDS:
        text = re.sub(pattern, python, text)
    text = " ".join(text.split())
    if not _ALLOWED_CHARS.fullmatch(text):
        bad = sorted({c for c in text if not _ALLOWED_CHARS.fullmatch(c)})
        raise ValueError(f"cannot calculate with {''.join(bad)!r}; use numbers and + - * / ^ % ( )")
    return text


def _root(kind: str, operand: str) -> str:
    name = "cbrt" if kind in ("cube root", "cbrt") else "sqrt"
    return f"{name}(" if operand == "(" else f"{name}({operand})"


def _check(value: object) -> int | float:
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("the result is not a number")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError("the number is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the number is too large" if math.isinf(value) else "the result is not a number")
    return value


def _power(base: int | float, exponent: int | float) -> int | float:
    # Refuse before computing: 9**9**9 would take minutes and gigabytes.
    if abs(base) > 1 and exponent > 0 and exponent * math.log2(abs(base)) > MAX_BITS:
        raise ValueError("the number is too large")
    return base**exponent


_BINARY: dict[type[ast.operator], Callable[[int | float, int | float], int | float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _power,
}


def _eval(node: ast.AST, depth: int = 0) -> int | float:
    if depth > MAX_DEPTH:
        raise ValueError("the expression is nested too deeply")
    if isinstance(node, ast.Expression):
        return _eval(node.body, depth + 1)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        value = _eval(node.operand, depth + 1)
        return _check(-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        return _check(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise ValueError(f"unknown word {node.id!r} in the expression")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fn = FUNCTIONS.get(node.func.id)
        if fn is None:
            raise ValueError(f"unknown function {node.func.id!r}; known: {', '.join(sorted(FUNCTIONS))}")
        args = [_eval(arg, depth + 1) for arg in node.args]
        try:
            return _check(fn(*args))
        except TypeError:
            raise ValueError(f"{node.func.id}() was given the wrong number of values") from None
    raise ValueError(f"{type(node).__name__} is not allowed in a calculation")


def _tidy(value: int | float) -> int | float:
    """Whole numbers as ints; float noise such as 0.30000000000000004 rounded away (12 digits)."""
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression; ValueError says what is wrong with it."""
    if len(expression) > MAX_CHARS:
        raise ValueError(f"the expression is too long (at most {MAX_CHARS} characters)")
    text = normalize(expression)
    if not text:
        raise ValueError("there is nothing to calculate")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise ValueError(f"cannot read {expression!r} as arithmetic") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ValueError("the expression is too long")
    try:
        return _tidy(_eval(tree))
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError("the number is too large") from None
    except RecursionError:
        raise ValueError("the expression is nested too deeply") from None
    except ValueError as exc:
        # math's own "math domain error" is not helpful when read out.
        message = "that has no real result (e.g. the square root of a negative number)"
        raise ValueError(message if str(exc) == "math domain error" else str(exc)) from None


# Arithmetic reads like arithmetic whatever words it uses ("17 times 23", "15 percent of 80").
ARITHMETIC = (
    r"\d\s*(?:[-+*/x×÷^]|times|plus|minus|divided|over|percent|%)\s*(?:by\s*)?\d|percent of|square root|"
    r"power of|\d\s*(?:squared|cubed)"
)


# Numbers and operators alone ("what is 17 times 23"): the words are the expression, as the tool reads it.
_NUM = r"\d+(?:\.\d+)?"
_OP = r"(?:[-+*/×÷^]|x|times|plus|minus|multiplied\s+by|divided\s+by|over)"
PLAIN_SUM = (
    r"^\W*(?:(?:what(?:'s|\s+is)|how\s+much\s+is|calculate|compute)\s+)?"
    rf"(?P<expression>{_NUM}(?:\s*{_OP}\s*{_NUM})+)\W*$"
)


@tool(
    patterns=[PLAIN_SUM, ARITHMETIC],
    examples=[
        "what is 12 times 34",
        "what's 20 percent of 150",
        "square root of 81",
        "3 to the power of 4",
        "900 divided by 25",
    ],
)
def calculate(expression: str) -> dict:
    """Calculate arithmetic exactly; use this for any math instead of working it out yourself.

    Args:
        expression: the arithmetic to work out, e.g. "17 * 23", "15% of 80", "sqrt(144)", "2^10",
            "(3.5 + 4.25) / 2"
    """
    return {"expression": expression, "result": evaluate(expression)}
