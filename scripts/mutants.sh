#!/usr/bin/env bash
# Mutation testing of the two pure crates: `scripts/mutants.sh [crate...]` (default: domain and
# application). cargo-mutants changes the code of one crate at a time (a comparison flipped, a
# function body replaced by a default value, a match arm deleted...) and runs that crate's own
# unit tests against each change; a change that no test notices is "missed". The run fails when
# fewer than MUTANTS_MIN_PERCENT (default 90) percent of a crate's viable mutants are caught:
#     caught / (caught + missed + timeout) counted with timeouts as caught,
# mutants that do not build ("unviable") left out.
#
# cargo-mutants (version pinned below) is installed from crates.io with `cargo install --locked`
# once and cached under ${XDG_CACHE_HOME:-~/.cache}/shop/cargo-mutants-<version>.
# Settings shared with local runs (`cargo mutants -p domain`) are in .cargo/mutants.toml.
# Results: mutants.out/<crate>/mutants.out/ (outcomes.json, caught.txt, missed.txt, logs).
#
# By default each job works in a scratch copy of the tree, which first builds the crates'
# dependencies once more. Under CI=true (a checkout thrown away afterwards) the mutants are
# applied in the tree itself instead (`--in-place`, one job, reusing the target/ the tests
# just built), which saves that build; cargo-mutants puts each file back after its mutant.
#
# Switches:
#   MUTANTS_JOBS=N          parallel build/test jobs in scratch copies (default 2)
#   MUTANTS_IN_PLACE=1|0    mutate the tree itself (default: 1 under CI=true, else 0)
#   MUTANTS_MIN_PERCENT=N   the bar (default 90)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_MUTANTS_VERSION=27.1.0
MIN_PERCENT="${MUTANTS_MIN_PERCENT:-90}"
JOBS="${MUTANTS_JOBS:-2}"
IN_PLACE="${MUTANTS_IN_PLACE:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}"

log() { printf '==> %s\n' "$*" >&2 || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-}/.cargo/bin/cargo" ]; then
    PATH="${HOME:-}/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust from https://rustup.rs"
command -v python3 >/dev/null 2>&1 || die "python3 not found (it reads cargo-mutants' outcomes.json)"

root="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/shop/cargo-mutants-$CARGO_MUTANTS_VERSION"
if ! [ -x "$root/bin/cargo-mutants" ]; then
    log "installing cargo-mutants $CARGO_MUTANTS_VERSION into $root (once)"
    cargo install --locked --quiet cargo-mutants --version "=$CARGO_MUTANTS_VERSION" --root "$root"
fi
PATH="$root/bin:$PATH"

crates=("$@")
[ "${#crates[@]}" -gt 0 ] || crates=(domain application)

status=0
for crate in "${crates[@]}"; do
    out="mutants.out/$crate"
    rm -rf "$out"
    mkdir -p "$out"
    if [ "$IN_PLACE" = 1 ]; then
        how=(--in-place)
        log "cargo mutants --package $crate --in-place (its own tests)"
    else
        how=(--jobs "$JOBS")
        log "cargo mutants --package $crate (its own tests, $JOBS jobs in scratch copies)"
    fi
    started=$(date +%s)
    rc=0
    # Exit codes: 0 all caught, 2 some missed, 3 some timed out; anything else is a failure
    # of the run itself (4: the unmutated tests fail).
    cargo mutants --package "$crate" "${how[@]}" --output "$out" || rc=$?
    if [ "$IN_PLACE" = 1 ]; then
        # proptest records the inputs that failed against a mutant; they are no regressions.
        git ls-files --others --exclude-standard -z -- "crates/$crate" \
            | { grep -z '/proptest-regressions/' || true; } | xargs -0 -r rm -f --
    fi
    case "$rc" in
        0 | 2 | 3) ;;
        *) log "cargo mutants failed on $crate (exit $rc)"; status=1; continue ;;
    esac
    python3 - "$out/mutants.out/outcomes.json" "$crate" "$MIN_PERCENT" "$(($(date +%s) - started))" <<'PY' || status=1
import json, sys

path, crate, bar, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
counts = {"CaughtMutant": 0, "MissedMutant": 0, "Timeout": 0, "Unviable": 0}
missed = []
with open(path) as f:
    data = json.load(f)
for o in data["outcomes"]:
    if o["scenario"] == "Baseline":
        continue
    summary = o["summary"]
    counts[summary] = counts.get(summary, 0) + 1
    if summary == "MissedMutant":
        m = o["scenario"]["Mutant"]
        missed.append(m.get("name") or f"{m['file']}: {m.get('description', '')}")
caught = counts["CaughtMutant"] + counts["Timeout"]
viable = caught + counts["MissedMutant"]
percent = 100.0 * caught / viable if viable else 100.0
print(
    f"{crate}: {percent:.1f}% of {viable} viable mutants caught "
    f"(caught {counts['CaughtMutant']}, timeout {counts['Timeout']}, missed {counts['MissedMutant']}, "
    f"unviable {counts['Unviable']}) in {secs} s"
)
for m in missed:
    print(f"  missed: {m}")
if percent < bar:
    print(f"error: {crate} is below {bar:g}% of viable mutants caught", file=sys.stderr)
    sys.exit(1)
PY
done
exit "$status"
