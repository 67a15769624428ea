#!/usr/bin/env bash
# What the web features cost on a cold build, interleaved round-robin:
#   plain   three variants (256 jpeg, 640 webp, 1280 jpeg)
#   ph      the same with placeholders (PLACEHOLDER, default "thumbhash")
#   set     widths = [320, 640, 1280] in one set
#   single  the same three boxes as single variants
# Usage: bench/web_costs.sh THUMBGEN CORPUS [ROUNDS]   (prints "case seconds"
# per run; take medians). CASES="plain ph" limits the cases.
set -euo pipefail
TG=$(realpath "$1"); CORPUS=$(realpath "$2"); ROUNDS=${3:-3}
CASES=${CASES:-"plain ph set single"}
PLACEHOLDER=${PLACEHOLDER:-'"thumbhash"'}
WORK=${WORK:-/tmp/thumbgen-web-costs}
box() { printf '[[variants]]\nname = "%s"\nwidth = %s\nheight = %s\nformat = "%s"\n' "$@"; }
three="$(box thumb 256 256 jpeg; box card 640 640 webp; box large 1280 1280 jpeg)"
mkdir -p "$WORK"/{plain,ph,set,single}
head="source = \"$CORPUS\"
output = \"out\""
printf '%s\n%s\n' "$head" "$three" > "$WORK/plain/.thumbgen.toml"
printf '%s\nplaceholder = %s\n%s\n' "$head" "$PLACEHOLDER" "$three" > "$WORK/ph/.thumbgen.toml"
printf '%s\n[[variants]]\nname = "photo"\nwidths = [320, 640, 1280]\nheight = 1280\n' "$head" \
  > "$WORK/set/.thumbgen.toml"
printf '%s\n%s\n' "$head" "$(box a 320 1280 jpeg; box b 640 1280 jpeg; box c 1280 1280 jpeg)" \
  > "$WORK/single/.thumbgen.toml"
for _ in $(seq "$ROUNDS"); do
  for c in $CASES; do
    rm -rf "$WORK/$c/out" "$WORK/$c/.thumbgen"
    start=$(date +%s.%N)
    (cd "$WORK/$c" && "$TG" build -j2 --quiet)
    echo "$c $(python3 -c "print(round($(date +%s.%N) - $start, 3))")"
  done
done
