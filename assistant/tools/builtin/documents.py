"""Built-in tool: search the user's own documents (.txt, .md, .pdf in the documents folder).

The folder is $SORI_DOCUMENTS_DIR, else "documents" in Sori's data folder; `configure(folder)` changes it.
The index lives in assistant.services.documents and is brought up to date before each search.
"""

from __future__ import annotations

from assistant.services.documents import SUFFIXES, configure, documents_dir, search, sync
from assistant.tools import tool

__all__ = ["configure", "search_documents"]

KINDS = ", ".join(sorted(SUFFIXES))


# Asking what the user's own papers say: "what does my rental agreement say about subletting",
# "according to my insurance policy, am I covered for floods".
ABOUT_MY_PAPERS = [
    r"^\W*what\s+(?:does|do)\s+my\s+(?:[\w'-]+\s+){1,3}(?:say|said|mention|state)s?\s+"
    r"(?:about|on|regarding)\b",
    r"\baccording\s+to\s+my\s+"
    r"(?!(?:notes?|calculations?|math|estimates?|watch|clock|memory|knowledge)\b)\w",
]


@tool(
    patterns=ABOUT_MY_PAPERS,
    timeout=60,  # the first search of a big folder reads every file
    examples=[
        "what does my rental contract say about noise",
        "search my documents for the refund policy",
        "find the part about overtime in my files",
    ],
)
def search_documents(query: str) -> dict:
    """Search the user's own documents and files (notes, manuals, contracts, PDFs) for passages about
    something; cite the file name (and page) of what you use in the answer.

    Args:
        query: the words to look for, e.g. "pets", "warranty period", "vacation days"
    """
    folder = documents_dir()
    if not folder.is_dir():
        return {
            "results": [],
            "message": f"There is no documents folder at {folder}. Put {KINDS} files there, or set "
            "SORI_DOCUMENTS_DIR to the folder that holds them.",
        }
    report = sync(folder)
    if report.files == 0:
        return {"results": [], "message": f"The documents folder {folder} has no {KINDS} files."}
    results = search(query, folder=folder)
    answer: dict = {"query": query, "documents": report.files, "results": results}
    if not results:
        answer["message"] = f"Nothing in the {report.files} documents matches {query!r}."
    if report.failed:
        answer["unreadable"] = sorted(report.failed)
    return answer
