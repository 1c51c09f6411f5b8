"""The prompt reader's lexicon (see :mod:`cadenza.compose.prompt` for how it is used).

The tables are written as text, one group or entry per line (``;`` separates entries,
``_`` joins the words of a phrase, ``-`` is "says nothing"), so that the words can be
read and extended at a glance; :func:`phrases` turns them into one lookup table.
"""

from __future__ import annotations

from cadenza.compose.conditions import INSTRUMENTS

__all__ = ["STOPWORDS", "phrases"]


def _entries(text: str) -> list[list[str]]:
    """Each ``;``- or line-separated entry as its words, phrases' ``_`` made spaces."""
    out = []
    for line in text.splitlines():
        for entry in line.split("#")[0].split(";"):
            words = [w.replace("_", " ") for w in entry.split()]
            if words:
                out.append(words)
    return out


def _groups(text: str) -> dict[str, list[str]]:
    """``name: phrase phrase ...`` lines -> {name: phrases}."""
    groups: dict[str, list[str]] = {}
    for line in text.strip().splitlines():
        name, _, rest = line.partition(":")
        groups.setdefault(name.strip(), []).extend(w.replace("_", " ") for w in rest.split())
    return groups


STOPWORDS = frozenset(
    _groups("""
    words: a an the and or but nor with of for to in on at by from into as so some any over plus
    words: music track song piece tune cue sound sounds soundtrack something like that which who
    words: is are be it its this these those i we me my our you your want need would should could
    words: please make create write generate compose give get can will have has long length lasting
    words: duration about around roughly approximately approx nearly almost just only also very really
    words: quite too solo full type style vibe vibes feel feeling mood tone time signature
    """)["words"]
)

# phrase -> the names of conditions.INSTRUMENTS (and "drums") it stands for; each name of
# INSTRUMENTS stands for itself ("electric-piano" also as "electric piano")
INSTRUMENT_SYNONYMS = """
grand_piano piano; upright_piano piano; keyboard piano
electric_piano electric-piano; e_piano electric-piano; epiano electric-piano; rhodes electric-piano
wurlitzer electric-piano
celeste celesta; glockenspiel celesta; bells celesta; music_box celesta
vibes vibraphone; xylophone marimba
church_organ organ; pipe_organ organ; hammond organ
acoustic_guitar guitar; classical_guitar guitar; nylon_guitar guitar; lute guitar; ukulele guitar
banjo guitar; mandolin guitar
electric_guitar electric-guitar; distorted_guitar electric-guitar; rock_guitar electric-guitar
bass_guitar bass; electric_bass bass; synth_bass bass; bassline bass; bass_line bass
fiddle violin; violoncello cello
double_bass contrabass; upright_bass contrabass; string_bass contrabass
string strings; string_section strings; string_quartet strings; string_ensemble strings
string_orchestra strings; low_strings strings; pizzicato_strings strings; pizzicato strings
voice choir; voices choir; vocals choir; vocal choir; singers choir; singing choir
french_horn horn; brass_section brass; brass_band brass; tuba brass; sax saxophone
recorder flute; piccolo flute; pan_flute flute; panflute flute; tin_whistle flute
synth pad; synths pad; synthesizer pad; synth_pad pad
drums drums; drum drums; drum_kit drums; drum_machine drums; percussion drums; beat drums
timpani drums; taiko drums
rhythm_section bass drums
orchestra strings brass drums; full_orchestra strings brass drums; symphony_orchestra strings brass drums
"""

STYLES = """
pop: pop lofi lo_fi chillhop hiphop hip_hop rock metal punk edm electronic electronica synthwave
pop: synth_wave retrowave chiptune 8_bit 16_bit house_music deep_house techno trance dubstep disco
classical: orchestral orchestra full_orchestra symphony_orchestra cinematic epic classical symphonic symphony
folk: folk celtic irish acoustic acoustic_guitar tavern medieval_tavern country bluegrass jig shanty
early: baroque renaissance medieval madrigal early_music
chorale: hymn chorale church
"""

# phrase valence arousal (-1..1; "-": says nothing of that axis)
MOODS = """
# calm, gentle
calm .3 -.7; peaceful .5 -.8; relaxing .5 -.7; relaxed .5 -.7; serene .5 -.8; tranquil .5 -.8
soothing .4 -.7; gentle .3 -.5; chill .3 -.5; chilled .3 -.5; mellow .2 -.5; cozy .5 -.5; cosy .5 -.5
warm .5 -.3; dreamy .3 -.5; meditative .3 -.8; meditation .3 -.8; lullaby .4 -.8; sleepy .1 -.8
tender .5 -.5; romantic .6 -.3; sweet .6 -.2; thoughtful .1 -.4; reflective 0 -.4; contemplative 0 -.5
nostalgic .1 -.3; bittersweet 0 -.3; ambient - -.5
# happy, bright
happy .8 .5; joyful .9 .6; joyous .9 .6; cheerful .8 .5; upbeat .7 .6; bright .6 .3; fun .7 .5
playful .6 .4; whimsical .5 .3; quirky .4 .3; silly .6 .4; cute .7 .2; lively .6 .6; hopeful .6 .1
uplifting .7 .4; optimistic .6 .3; light .4 -.1; friendly .6 -; wonder .6 -; magical .6 .1; love .7 -.2
menu .2 -.3; main_menu .2 -.3; exploration .3 -; adventure .5 .6; adventurous .5 .6
# heroic, big
heroic .7 .7; triumphant .8 .8; victory .8 .7; victorious .8 .7; epic .5 .8; majestic .6 .4
grand .5 .5; proud .6 .5; noble .5 .2; energetic .5 .8; exciting .6 .8; excited .6 .8; powerful .3 .8
# sad
sad -.7 -.4; melancholic -.6 -.4; melancholy -.6 -.4; sorrowful -.8 -.4; mournful -.8 -.5
somber -.6 -.4; sombre -.6 -.4; gloomy -.6 -.3; lonely -.6 -.4; depressing -.8 -.5; tragic -.8 0
grief -.8 -.4; funeral -.8 -.6; rainy -.3 -.3; game_over -.6 -.3
# tense, dark
tense -.6 .7; tension -.6 .6; suspense -.5 .5; suspenseful -.5 .5; nervous -.5 .6; anxious -.6 .6
uneasy -.5 .3; scary -.8 .6; creepy -.7 .3; spooky -.5 .3; horror -.9 .5; haunted -.6 .2; eerie -.5 .1
sinister -.7 .3; ominous -.6 .2; dark -.6 -; dread -.8 .3; menacing -.7 .5; threatening -.7 .5
dangerous -.6 .7; danger -.6 .7; mysterious -.2 -.2; mystery -.2 -.2; stealth -.3 .3; sneaky - .2
dissonant -.5 -; noir -.4 -.2
# angry, action
angry -.7 .8; aggressive -.5 .9; furious -.8 .9; rage -.8 .9; chaotic -.4 .9; frantic -.4 .9
urgent -.4 .8; intense - .8; action - .8; driving - .6; boss -.5 .8; boss_fight -.6 .9
boss_battle -.6 .9; fight -.5 .8; battle -.4 .8; war -.7 .8; combat -.4 .8; chase -.3 .9
# energy and loudness alone
slow - -.6; slowly - -.4; fast - .6; fast_paced - .7; uptempo - .6; up_tempo - .6; quick - .5
brisk - .5; quiet - -.7; soft - -.5; loud - .6; big - .6; huge - .9; massive - .9; explosive - 1
explodes - 1; explode - 1; explosion - 1
"""

CURVES = """
builds: build builds building build_up builds_up building_up buildup crescendo rising rises ramps_up
builds: ramp_up grows growing escalating escalates gets_louder getting_louder intensifies intensifying
builds: climax to_a_climax
fades: fade fades fading fade_out fades_out fading_out fades_away dies_down dies_away winds_down
fades: decrescendo diminuendo gets_quieter
swells: swell swells swelling rises_and_falls peaks_in_the_middle
drops: drop drops drops_out breaks_down cuts_out
steady: steady constant consistent unchanging even_intensity stays_the_same
"""

# section words, each with the intensity it usually has
SECTIONS = """
intro .3; introduction .3; verse .5; pre_chorus .65; prechorus .65; chorus .8; refrain .8; bridge .6
interlude .4; breakdown .3; outro .3; coda .3; finale .95; middle .6; ending .5
"""

OTHERS = """
loop: loop loops loopable looping looped seamless seamlessly loop_it
no_loop: no_loop not_looping not_a_loop non_looping one_shot no_looping
3/4: waltz triple_time triple_meter
4/4: common_time
filler: at_first at_the_start at_the_beginning in_the_middle at_the_end towards_the_end
"""


def _number(text: str) -> float | None:
    return None if text == "-" else float(text)


def phrases() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    """Every lexicon phrase, as a tuple of words -> what it says: a list of (kind, value)
    with kind instrument (a tuple of names), style, mood ((valence, arousal)), curve,
    section (a level), loop (a bool), meter, or filler (read, says nothing)."""
    table: dict[tuple[str, ...], list[tuple[str, object]]] = {}

    def add(phrase: str, kind: str, value: object) -> None:
        table.setdefault(tuple(phrase.split()), []).append((kind, value))

    for name in INSTRUMENTS:
        add(name.replace("-", " "), "instrument", (name,))
    for phrase, *names in _entries(INSTRUMENT_SYNONYMS):
        add(phrase, "instrument", tuple(names))
    for style, words in _groups(STYLES).items():
        for phrase in words:
            add(phrase, "style", style)
    for phrase, valence, arousal in _entries(MOODS):
        add(phrase, "mood", (_number(valence), _number(arousal)))
    for curve, words in _groups(CURVES).items():
        for phrase in words:
            add(phrase, "curve", curve)
    for phrase, level in _entries(SECTIONS):
        add(phrase, "section", float(level))
    for group, words in _groups(OTHERS).items():
        for phrase in words:
            if group in ("loop", "no_loop"):
                add(phrase, "loop", group == "loop")
            else:
                add(phrase, "filler" if group == "filler" else "meter", None if group == "filler" else group)
    return table
