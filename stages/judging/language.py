"""What script and language a text is in, cheaply: Unicode character names and a few common words.

`first_message_script` names the script most letters are in; `guess_language` says "English",
"other" or "unknown" from the script and from counts of common words of English and six other
languages written in Latin letters. Good enough to count, not to label one message with certainty.
"""
import functools
import re
import unicodedata
from collections import Counter

# Unicode character-name prefixes -> script label; kana mark Japanese (see first_message_script).
SCRIPT_PREFIXES = (("LATIN", "Latin"), ("CYRILLIC", "Cyrillic"), ("GREEK", "Greek"), ("ARABIC", "Arabic"),
                   ("HEBREW", "Hebrew"), ("DEVANAGARI", "Devanagari"), ("BENGALI", "Bengali"), ("TAMIL", "Tamil"),
                   ("THAI", "Thai"), ("CJK", "Han"), ("HIRAGANA", "Japanese"), ("KATAKANA", "Japanese"),
                   ("HALFWIDTH KATAKANA", "Japanese"), ("HANGUL", "Hangul"), ("HALFWIDTH HANGUL", "Hangul"))
# Frequent short words, none of them also an English word (no "die", "was", "per", "come", "as").
COMMON_WORDS = {
    "English": "the and you are is what who how can your my i i'm it to of that do hi hello hey thanks please yes "
               "this with for about made name why have not am were does did there they we an will would so but be at on "
               "from here just help best more most english speak answer reliable me yourself tell explain",
    "French": "le les est et je tu vous qui quoi es une des du pas bonjour salut merci comment pourquoi ça ce suis "
              "êtes avec pour oui mais c'est qu'est-ce",
    "Spanish": "el los las y tú eres quién qué cómo hola gracias por para una sí pero soy estás está puedes del",
    "German": "der das ist und ich du bist sie wer wie hallo danke nicht ein eine mit für ja kannst bitte",
    "Italian": "il lo gli è sono sei chi cosa ciao grazie una non sì puoi della",
    "Portuguese": "os é eu você quem olá oi obrigado obrigada uma não sim sou",
    "Dutch": "het een ik jij wie hoe bedankt niet voor ben bent",
}
WORD_SETS = {language: frozenset(words.split()) for language, words in COMMON_WORDS.items()}
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Marks English text does not use: a tie of common words with one of these leans to another language.
FOREIGN_MARKS = re.compile(r"[¿¡]|[^\x00-\x7f](?<=[^\W\d_])")


@functools.cache
def script_of_letter(letter: str) -> str:
    name = unicodedata.name(letter, "")
    return next((label for prefix, label in SCRIPT_PREFIXES if name.startswith(prefix)), "other")


def first_message_script(text: str) -> str:
    """The script most of the letters are in; kana anywhere makes it Japanese, whose text mixes in Han."""
    counts = Counter(script_of_letter(ch) for ch in text if ch.isalpha())
    if "Japanese" in counts:
        counts["Japanese"] += counts.pop("Han", 0)
    return max(sorted(counts), key=counts.__getitem__) if counts else "other"


def word_counts(text: str) -> Counter:
    """Common words of each language in the text; "what's" counts as "what"."""
    words = [word.replace("’", "'") for word in WORD.findall(text.lower())]
    return Counter({language: sum(word in common or word.split("'")[0] in common for word in words)
                    for language, common in WORD_SETS.items()})


def guess_language(text: str) -> str:
    """"English", "other" or "unknown". Another script is "other"; in Latin letters, the language with
    more common words wins; on a tie, accented letters or ¿ ¡ make it "other"."""
    script = first_message_script(text)
    if script != "Latin":
        return "unknown" if script == "other" else "other"
    counts = word_counts(text)
    english, others = counts.pop("English"), max(counts.values())
    if english != others:
        return "English" if english > others else "other"
    return "other" if FOREIGN_MARKS.search(text) else "unknown"



SCRIPT_LANGUAGES = {"Han": "zh", "Japanese": "ja", "Cyrillic": "ru", "Devanagari": "hi"}
CODES = {"English": "en", "French": "fr", "Spanish": "es", "German": "de", "Italian": "it", "Portuguese": "pt",
         "Dutch": "nl"}
# More frequent words, to tell one message's language (language_code) beside COMMON_WORDS.
MORE_WORDS = {
    "French": "été suis nous mon mes avec dans sur aussi très j'ai m'a c'est n'est par",
    "Spanish": "es fui fue muy también mí mis cuando porque hasta desde usted puedo nuestro con otro otra",
    "German": "wurde mich mir von hat auf einem einer auch sehr habe wir bin dich dein",
    "Italian": "stato stata della dalla anche perché questo questa io mio mia dal del sono",
    "Portuguese": "fui pela pelo foi minha meu isso também você não sou nós nosso",
}
MORE_SETS = {language: frozenset(words.split()) for language, words in MORE_WORDS.items()}
# Letters each language uses and most others do not (a tie-breaker worth one word at most... twice).
MARKS = {"Spanish": "ñ¿¡áíóú", "Portuguese": "ãõç", "French": "èêëçàùûôœî", "German": "äöüß", "Italian": "òàèìù"}
ENGLISH_LEAD = 3           # English common words this many times any other language's: English
OTHER_SCRIPT_SHARE = 0.2   # of the letters: a Chinese answer that names ChatGPT is still Chinese


def script_counts(text: str) -> Counter:
    counts = Counter(script_of_letter(ch) for ch in text if ch.isalpha())
    if "Japanese" in counts:
        counts["Japanese"] += counts.pop("Han", 0)
    return counts


def latin_language(text: str, extra: dict[str, frozenset[str]] | None = None) -> str:
    lowered = text.lower()
    words = Counter(word.replace("’", "'") for word in WORD.findall(lowered))
    words.update(word.split("'")[0] for word in list(words.elements()) if "'" in word)  # "what's" counts as "what"
    found = set(words)
    counts = Counter({language: sum(words[w] for w in found & (common | MORE_SETS.get(language, frozenset())))
                      for language, common in WORD_SETS.items()})
    rest = max(count for language, count in counts.items() if language != "English")
    if counts["English"] >= ENGLISH_LEAD * max(rest, 1) and lowered.isascii():
        return "en"  # plainly English: the vocabulary's words and phrases need not be counted
    names = {code: language for language, code in CODES.items()}
    for code, known in (extra or {}).items():
        if code in names:
            counts[names[code]] += sum(words[w] for w in found & known) + phrase_count(lowered, known)
    if not lowered.isascii():
        counts.update({language: min(2, sum(lowered.count(mark) for mark in marks)) for language, marks in MARKS.items()})
    english = counts.pop("English")
    best = max(sorted(counts), key=counts.__getitem__)
    if counts[best] > english or (counts[best] == english and counts[best] and FOREIGN_MARKS.search(text)):
        return CODES[best]
    return "en" if english or not FOREIGN_MARKS.search(text) else ""


@functools.lru_cache(maxsize=64)
def phrases_pattern(known: frozenset[str]) -> re.Pattern | None:
    phrases = sorted((p for p in known if " " in p), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + r")(?!\w)") if phrases else None


def phrase_count(lowered: str, known: frozenset[str]) -> int:
    pattern = phrases_pattern(known)
    return len(pattern.findall(lowered)) if pattern is not None else 0


def language_code(text: str, extra: dict[str, frozenset[str]] | None = None) -> str:
    """A two-letter guess at one message's language ("en", "es", "zh", ...); "" when nothing says.
    Letters of another script (a fifth of them is enough: names are written in Latin letters) decide
    Chinese, Japanese, Russian and Hindi; in Latin letters the language with more common words wins,
    English on a tie unless the text has accents or ¿ ¡. `extra` adds words per language code (the leak
    check's vocabulary)."""
    if text.isascii():
        return latin_language(text, extra) if re.search(r"[A-Za-z]", text) else ""
    counts = script_counts(text)
    total = sum(counts.values())
    others = {script: n for script, n in counts.items() if script in SCRIPT_LANGUAGES}
    latin = latin_language(text, extra) if counts.get("Latin") else ""
    if others and (max(others.values()) >= OTHER_SCRIPT_SHARE * total or latin != "en"):
        return SCRIPT_LANGUAGES[max(sorted(others), key=others.__getitem__)]
    return latin
