"""What the audio-only lip seal hears in speech that is not English (probtalk.corpus.ear).

The seal's ear recognises English words by default (``listen="words"``); on speech in another
language it can only hear English words that sound alike. This speaks eight sentences of our own
per language with espeak-ng (German, Spanish, French, Italian, and American English for
comparison; espeak-ng's phone timings are the truth) and prints, for each ear — the detector
alone, the detector with free phone recognition (``listen="phones"``) and the detector with
word recognition (the default):

* p/b/m midpoints marked (higher is better);
* open-vowel midpoints marked (lower is better: the seal would shut an open vowel);
* stray marks: marked frames more than a frame away from any p, b or m, per second of speech.

Usage::

    python benchmarks/ear_languages.py [--model PATH]
"""

from __future__ import annotations

import argparse

import numpy as np

import probtalk
from probtalk.audio import resample
from probtalk.bilabial import RECOGNISED_MIN_P, heard_frames
from probtalk.corpus.ear import recognise_bilabials
from probtalk.corpus.espeak import Espeak
from probtalk.eval.lipsync import phone_midpoints
from probtalk.layout import AUDIO_SAMPLE_RATE

FPS = 25.0
SENTENCES: dict[str, tuple[str, ...]] = {
    "de": ("Der Mann aus Bremen bringt morgen Brot und Milch mit.", "Am Abend baden wir im warmen Meer.",
           "Papa hat ein blaues Boot gekauft.", "Bitte nimm mein Paket mit zum Bahnhof.",
           "Meine Mutter malt ein Bild vom Baum.", "Wir haben kaum Zeit, aber viel Spass.",
           "Im Sommer bleiben wir lange am Strand.", "Peter baut ein Haus aus Lehm und Holz."),
    "es": ("Mi padre compra pan y mantequilla por la manana.", "El barco para en el puerto de Palma.",
           "Vamos a bailar bajo la luna blanca.", "Mamá prepara una sopa muy buena.",
           "Pablo busca su maleta marrón.", "Bebemos agua fresca cuando hace calor.",
           "La playa está llena de palmeras.", "Por favor, abre la ventana de arriba."),
    "fr": ("Mon père boit un bol de lait chaud le matin.", "Nous partons pour Paris demain matin.",
           "Ma mère aime beaucoup les pommes.", "Le bateau blanc passe sous le pont.",
           "Pierre mange une banane au parc.", "Il fait beau, allons nous promener.",
           "Papa prépare le repas pour la famille.", "Mes amis habitent dans une petite maison."),
    "it": ("Mio padre beve un buon caffè ogni mattina.", "Andiamo al mare a Palermo domani.",
           "La mamma prepara la pasta per tutti.", "Il bambino gioca con la palla blu.",
           "Paolo compra il pane e il burro.", "Abbiamo mangiato molto bene stasera.",
           "Le barche partono dal porto presto.", "Maria porta una borsa marrone."),
    "en-us": ("My brother bought a map of Boston by the bay.", "Please pass me the bread and the butter.",
              "Bob paid for the big blue bus.", "We may miss the movie if it rains.",
              "The baby played with a pink ball.", "Mom baked apple pie for the party.",
              "Put the books back in the box.", "Many people walked past the bank."),
}  # fmt: skip
BILABIALS = ("P", "B", "M")


def near_bilabials(phones: list[tuple[float, float, str]], frames: int) -> np.ndarray:
    """bool [frames]: the shown frames of a p, b or m, and one either side."""
    near = np.zeros(frames, bool)
    for start, end, phone in phones:
        if phone in BILABIALS:
            near[max(0, int(start * FPS) - 1) : min(frames, int(np.ceil(end * FPS)) + 2)] = True
    return near


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    net = probtalk.load_model(args.model, device="cpu").bilabial_net
    ears = ("detector", "phones", "words")
    print("| language | p/b/m midpoints marked: " + " / ".join(ears) + " | open-vowel midpoints marked | "
          "stray marks per second |")
    print("|---|---|---|---|")
    for language, lines in SENTENCES.items():
        hit, bilabials, false, vowels, stray = (dict.fromkeys(ears, 0) for _ in range(5))
        seconds = 0.0
        for line in lines:
            audio, rate, spans, _ = Espeak.instance().synth(line, language, 1.0, 0.0, 1.0)
            wav = resample(audio, rate, AUDIO_SAMPLE_RATE).astype(np.float32)
            phones = [(s / rate, e / rate, ps[0]) for s, e, ps in spans if ps]
            frames = int(round(wav.size / AUDIO_SAMPLE_RATE * FPS))
            closed, opened = phone_midpoints(phones, FPS, frames)
            near = near_bilabials(phones, frames)
            marks = {
                "detector": net.frames(wav, FPS, frames),
                "phones": heard_frames(net, wav, FPS, frames, recognise_bilabials(wav, False), RECOGNISED_MIN_P),
                "words": heard_frames(net, wav, FPS, frames, recognise_bilabials(wav, True), 0.0),
            }
            for ear, marked in marks.items():
                hit[ear] += int(marked[closed].sum())
                bilabials[ear] += len(closed)
                false[ear] += int(marked[opened].sum())
                vowels[ear] += len(opened)
                stray[ear] += int((marked & ~near).sum())
            seconds += wav.size / AUDIO_SAMPLE_RATE
        print(f"| {language} ({bilabials['words']} p/b/m, {vowels['words']} open vowels, {seconds:.0f} s) | "
              + " / ".join(f"{100 * hit[e] / max(bilabials[e], 1):.0f} %" for e in ears) + " | "
              + " / ".join(f"{100 * false[e] / max(vowels[e], 1):.0f} %" for e in ears) + " | "
              + " / ".join(f"{stray[e] / seconds:.2f}" for e in ears) + " |", flush=True)


if __name__ == "__main__":
    main()
