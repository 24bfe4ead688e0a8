#!/usr/bin/env bash
# Check the PyInstaller folder dist/sori/ as a machine without Python would run it (`make test-bundle`):
# a clean environment, the project's venv and Python hidden, an empty user models dir (so the small
# models come from the bundle), a real X server (Xvfb). Exits non-zero on the first failed check.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$ROOT/dist/sori
EXE=$BUNDLE/sori
SHARED=${SORI_SHARED_DIR:-$ROOT/../shared}
# Only the checks of the output use Python (standard library); the bundle itself runs without it.
CHECK_PY=${CHECK_PY:-$ROOT/.venv/bin/python}
START=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $* =="; }
[ -x "$EXE" ] || fail "$EXE is missing; build it: make bundle"
[ -f "$SHARED/eval/utterances/q01_capital.wav" ] || fail "no shared eval audio in $SHARED (set SORI_SHARED_DIR)"

tmp=$(mktemp -d -t sori-test-bundle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/empty" "$tmp/config"
# Greedy decoding and a fixed seed, as in the test suite: the answers are repeatable.
printf '[llm]\ntemperature = 0.0\nseed = 7\n' >"$tmp/config/config.toml"

# Where the user's models are (the default profile is looked for there), and the Pythons to hide.
USER_MODELS=$("$CHECK_PY" -c 'from assistant import paths; print(paths.models_dir())')
VENV_DIR=$("$CHECK_PY" -c 'import sys; print(sys.prefix)')
BASE_PY=$("$CHECK_PY" -c 'import sys; print(sys.base_prefix)')

# Run a command with nothing from the build environment: no venv on PATH, no PYTHONPATH, a fresh
# home and Sori data/config dirs. Where mount namespaces work (root), the venv and the Python it was
# made from are also hidden under empty folders, as on a machine without them.
HIDE=""
if unshare -m true 2>/dev/null; then
    for dir in "$VENV_DIR" "$BASE_PY"; do
        case "$dir" in /usr | /usr/local | /) ;; *) HIDE="$HIDE mount --bind '$tmp/empty' '$dir' &&" ;; esac
    done
fi
clean() {
    local cmd=(env -i HOME="$tmp/home" PATH=/usr/bin:/bin LANG=C.UTF-8 SORI_DATA_DIR="$tmp/data"
        SORI_CONFIG_DIR="$tmp/config" "$@")
    if [ -n "$HIDE" ]; then
        unshare -m sh -c "$HIDE exec \"\$@\"" sh "${cmd[@]}"
    else
        "${cmd[@]}"
    fi
}
timed() { # timed LABEL CMD...: run, print the seconds it took (to stderr), keep its exit status
    local t0=$SECONDS rc=0
    "${@:2}" || rc=$?
    echo "time: $1 $((SECONDS - t0)) s" >&2
    return $rc
}

step "every library is bundled or a documented desktop library"
if [ -n "$HIDE" ]; then echo "hidden while running the bundle: $VENV_DIR $BASE_PY"; fi
hidden=("$VENV_DIR")
case "$BASE_PY" in /usr | /usr/local | /) ;; *) hidden+=("$BASE_PY") ;; esac
"$CHECK_PY" "$ROOT/packaging/check_bundle.py" libs "$BUNDLE" "$ROOT/packaging/system-libs.txt" "${hidden[@]}"

step "the small models come from the bundle"
path=$(clean "$EXE" --profile small models path llm) || fail "the bundle does not find its small models"
echo "$path"
[[ "$path" == "$BUNDLE/_internal/models/"* ]] || fail "the llm model is not the bundled one: $path"

step "window on Xvfb: --screenshot --demo"
timed "screenshot" clean xvfb-run -a "$EXE" --profile small --screenshot "$tmp/shot.png" --demo ||
    fail "the window did not start (its error is above)"
"$CHECK_PY" "$ROOT/packaging/check_bundle.py" png "$tmp/shot.png"
mkdir -p "$ROOT/build/bundle" && cp "$tmp/shot.png" "$ROOT/build/bundle/test-screenshot.png"
echo "kept: build/bundle/test-screenshot.png"

step "ask --json --audio-in q01_capital.wav"
timed "ask (speech in, small profile)" clean "$EXE" --profile small ask --json \
    --audio-in "$SHARED/eval/utterances/q01_capital.wav" >"$tmp/ask.json" || fail "ask --json failed (above)"
cat "$tmp/ask.json"
"$CHECK_PY" "$ROOT/packaging/check_bundle.py" answer "$tmp/ask.json" \
    "$SHARED/eval/utterances/transcripts.tsv" q01_capital.wav Paris
[ -z "$(ls -A "$tmp/data/models" 2>/dev/null)" ] || fail "the bundle wrote into the user models dir"

step "doctor (informational: audio devices may be missing here)"
rc=0
timed "doctor" clean "$EXE" --profile small doctor || rc=$?
echo "doctor exit status: $rc"

step "default profile from the user's models dir ($USER_MODELS)"
if SORI_MODELS_DIR=$USER_MODELS "$CHECK_PY" -c '
import sys
from assistant import models
sys.exit(not all(models.is_installed(m) for m in models.profile_models("default").values()))'; then
    path=$(clean env SORI_MODELS_DIR="$USER_MODELS" "$EXE" --profile default models path llm) ||
        fail "the bundle does not find the default models in $USER_MODELS"
    [[ "$path" == "$USER_MODELS/"* ]] || fail "the default llm is not the user's: $path"
    timed "ask (default profile)" clean env SORI_MODELS_DIR="$USER_MODELS" "$EXE" --profile default \
        ask "Say hello." >"$tmp/default.txt" || fail "ask with the default profile failed (above)"
    cat "$tmp/default.txt"
    [ -s "$tmp/default.txt" ] || fail "the default profile gave no answer"
else
    echo "SKIP: the default models are not installed in $USER_MODELS (sori --profile default models install)"
fi

echo
echo "test-bundle: all checks passed in $((SECONDS - START)) s"
