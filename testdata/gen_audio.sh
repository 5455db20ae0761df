#!/usr/bin/env bash
# gen_audio.sh regenerates the audio fixture corpus in testdata/audio/ (a few
# hundred KB in all), used by preflight, the CLI and the emulator tests.
#
# Needs Debian packages: ffmpeg flite sox libsox-fmt-mp3
#   apt-get install -y --no-install-recommends ffmpeg flite sox libsox-fmt-mp3
# Usage: testdata/gen_audio.sh [OUTDIR]   (default: the audio/ directory beside this script)
#
# Speech is flite's kal16 voice (16 kHz mono), which offline recognisers
# (pocketsphinx) understand; each speech fixture has a sidecar <base>.txt
# holding the sentence spoken in it (speech.* -> speech.txt).
# sox runs with -R (repeatable dither) and ffmpeg with bitexact flags so that
# reruns produce the same bytes where the encoders allow it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$here/audio}
mkdir -p "$OUT"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$OUT"
rm -f ./*.wav ./*.mp3 ./*.flac ./*.ogg ./*.opus ./*.m4a ./*.webm ./*.mp4 ./*.txt

S1="The quick brown fox jumps over the lazy dog."
S2="Today is a good day to test the transcription service."
S3="The meeting starts at nine o'clock on Monday morning."
FF=(ffmpeg -nostdin -hide_banner -v error -y)
BX=(-map_metadata -1 -fflags +bitexact -flags:a +bitexact -flags:v +bitexact)
sox() { command sox -R "$@"; }

# --- good speech, one per common format (16 kHz mono source) -------------------------------
flite -voice kal16 -t "$S1" -o "$tmp/s1.wav"
flite -voice kal16 -t "$S2" -o "$tmp/s2.wav"
flite -voice kal16 -t "$S3" -o "$tmp/s3.wav"
sox "$tmp/s1.wav" speech.wav                        # PCM s16le 16 kHz mono
sox speech.wav -C 32 speech.mp3                     # MPEG-2 layer III (FF F3 frames, no ID3)
sox speech.wav speech.flac
sox speech.wav -C 0 speech.ogg                      # Vorbis
"${FF[@]}" -i speech.wav -c:a libopus -b:a 24k "${BX[@]}" speech.opus
"${FF[@]}" -i speech.wav -c:a aac -b:a 32k "${BX[@]}" speech.m4a
"${FF[@]}" -i speech.wav -c:a libopus -b:a 24k "${BX[@]}" speech.webm
printf '%s\n' "$S1" > speech.txt
# video with an audio track, and video without one
"${FF[@]}" -f lavfi -i testsrc=size=96x64:rate=5 -i speech.wav -c:v libx264 -preset veryfast -crf 40 \
  -pix_fmt yuv420p -c:a aac -b:a 32k -shortest "${BX[@]}" speech_video.mp4
printf '%s\n' "$S1" > speech_video.txt
"${FF[@]}" -f lavfi -i testsrc=size=96x64:rate=5 -t 2 -c:v libx264 -preset veryfast -crf 40 \
  -pix_fmt yuv420p -an "${BX[@]}" video_noaudio.mp4
# streamed WebM without a Duration element (like a browser MediaRecorder upload)
"${FF[@]}" -i speech.wav -c:a libopus -b:a 24k "${BX[@]}" -f webm - > piped.webm

# --- levels ------------------------------------------------------------------------------------
sox -n -r 16000 -c 1 -b 16 silence.wav trim 0 1            # dithered digital silence, peak ~-90 dBFS
sox -n -r 16000 -c 1 silence.mp3 trim 0 2                  # MP3 of silence
sox -n -r 8000 -c 1 -b 16 noise_quiet.wav synth 1 whitenoise vol 0.002   # peak ~-56, RMS ~-67 dBFS
sox -n -r 8000 -c 1 -b 16 tone.wav synth 1 sine 440 vol 0.5
sox "$tmp/s3.wav" speech_quiet.flac vol 0.01               # -40 dB: peak ~-48, RMS ~-69 dBFS
printf '%s\n' "$S3" > speech_quiet.txt
# 30 s of digital zeros (no dither, so FLAC squeezes it), speech, then 5 s of zeros: sampled
# windows (start, spread, end) all land in silence; only a full pass finds the speech
command sox -n -r 16000 -c 1 -b 16 -D "$tmp/zeros.wav" trim 0 30
command sox -n -r 16000 -c 1 -b 16 -D "$tmp/tail.wav" trim 0 5
command sox -D "$tmp/zeros.wav" "$tmp/s2.wav" "$tmp/tail.wav" speech_leadsil.flac
printf '%s\n' "$S2" > speech_leadsil.txt

# --- broken files --------------------------------------------------------------------------------
half() { local n; n=$(stat -c %s "$1"); head -c $((n / 2)) "$1" > "$2"; }
half speech.wav trunc.wav                                  # header claims more data than present
half speech.flac trunc.flac                                # STREAMINFO claims more samples
half speech.mp3 trunc.mp3                                  # a valid, shorter MP3 (undetectable)
half speech.m4a trunc.m4a                                  # moov atom lost (ffmpeg's faststart is off)
head -c 44 speech.wav > header_only.wav                    # a header and no samples
: > empty.mp3
sox -n -t raw -r 8000 -e signed -b 16 -c 1 corrupt.mp3 synth 0.256 whitenoise   # 4096 noise bytes, repeatable
cp corrupt.mp3 corrupt.wav
printf 'hello this is text, not audio\n' > text_as.mp3     # non-audio with an audio extension
cp tone.wav tone_as.mp3                                    # WAV content, .mp3 name: extension mismatch
ls -l "$OUT" | awk 'NR>1 {s+=$5} END {printf "%d files, %d bytes\n", NR-1, s}'
