#!/usr/bin/env bash
# Downloads LJSpeech-1.1 (2.6 GB archive, 3.6 GB unpacked) for a machine with internet, checks its
# sha256 and unpacks it so that <parent>/LJSpeech-1.1/{metadata.csv,wavs/} exists — the path config.yaml's
# `datasets.ljspeech.path` points at (data/LJSpeech-1.1 by default).
#
#   bash scripts/download-ljspeech.sh [PARENT_FOLDER]        (default: data/ in the repository)
#
# Environment (for mirrors and tests): LJSPEECH_URL, LJSPEECH_SHA256, LJSPEECH_FOLDER (the folder the
# archive holds, default LJSpeech-1.1), KEEP_ARCHIVE=1 keeps the .tar.bz2 after unpacking.
# Safe to re-run: an existing copy is left alone, a partial download is resumed, and the folder appears
# only once it is completely unpacked.
set -euo pipefail

URL=${LJSPEECH_URL:-https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2}
SHA256=${LJSPEECH_SHA256:-be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5}
FOLDER=${LJSPEECH_FOLDER:-LJSpeech-1.1}
repo_root=$(cd "$(dirname "$0")/.." && pwd)
parent=${1:-$repo_root/data}

say() { echo "download-ljspeech: $*"; }
die() { echo "download-ljspeech: $*" >&2; exit 1; }

mkdir -p "$parent"
parent=$(cd "$parent" && pwd)
target=$parent/$FOLDER
if [[ -f $target/metadata.csv && -d $target/wavs ]]; then
  say "$target already holds metadata.csv and wavs/; nothing to do"
  exit 0
fi
[[ -e $target ]] && die "$target exists but is not a complete dataset (no metadata.csv or wavs/); move it away and run this again"

archive=$parent/$(basename "${URL%%\?*}")
partial=$archive.part
if [[ -f $archive ]]; then
  say "using the archive already at $archive"
else
  say "downloading $URL to $archive"
  if command -v curl >/dev/null; then
    # -C -: resume a partial download; --fail: an HTTP error is an error, not a saved error page.
    curl --fail --location --retry 3 --continue-at - --output "$partial" "$URL" ||
      die "download failed (curl exit $?); run this again to resume, or set LJSPEECH_URL to a mirror"
  elif command -v wget >/dev/null; then
    wget --tries=3 --continue --output-document="$partial" "$URL" ||
      die "download failed (wget exit $?); run this again to resume, or set LJSPEECH_URL to a mirror"
  else
    die "neither curl nor wget is installed (sudo apt-get install curl)"
  fi
  mv "$partial" "$archive"
fi

say "checking sha256"
actual=$(sha256sum "$archive" | cut -d' ' -f1)
if [[ $actual != "$SHA256" ]]; then
  rm -f "$archive"
  die "sha256 of $archive is $actual, expected $SHA256: the download is corrupt or not LJSpeech-1.1 (deleted it; run this again)"
fi

say "unpacking into $parent"
staging=$(mktemp -d "$parent/.$FOLDER.unpack.XXXXXX")
trap 'rm -rf "$staging"' EXIT
tar -xjf "$archive" -C "$staging" || die "unpacking $archive failed (is there enough disk space? LJSpeech needs ~3.6 GB)"
[[ -f $staging/$FOLDER/metadata.csv && -d $staging/$FOLDER/wavs ]] ||
  die "the archive has no $FOLDER/metadata.csv and $FOLDER/wavs/ (set LJSPEECH_FOLDER if it uses another folder name)"
# The rename is what makes the folder appear, so a reader never sees a half-unpacked dataset.
mv "$staging/$FOLDER" "$target"
[[ ${KEEP_ARCHIVE:-0} == 1 ]] || rm -f "$archive"
clips=$(find "$target/wavs" -name '*.wav' | wc -l)
say "done: $target ($clips clips)"
