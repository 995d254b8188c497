# Sourced by run.sh and test.sh: make .venv (first run, or after pyproject.toml changed).
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/cliqueclique ] || [ pyproject.toml -nt .venv/.installed ]; then
    echo "setting up .venv (first run only)..." >&2
    if ! { "$PYTHON" -m venv .venv &&
           .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e '.[test]'; } >.venv-install.log 2>&1; then
        cat .venv-install.log >&2
        echo "set-up failed; the log above is also in .venv-install.log" >&2
        exit 1
    fi
    touch .venv/.installed
fi
