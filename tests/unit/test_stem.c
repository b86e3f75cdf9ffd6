/* test_stem.c - the Porter stemmer against outputs worked by hand.
 *
 * Every pair below was derived by hand from the rules of Porter (1980):
 * the step examples of the paper (sections 3 and 4, carried through all
 * five steps), the paper's own full examples (GENERALIZATIONS -> GENER,
 * OSCILLATORS -> OSCIL), and common words whose measure m was counted by
 * hand.  The departures of Porter's reference program ("bli" -> "ble",
 * "logi" -> "log", words of two letters kept) get their own cases.
 */
#include <string.h>

#include "index/stem.h"
#include "tap.h"

static const char *const cases[][2] = {
	/* step 1a */
	{ "caresses", "caress" }, { "ponies", "poni" }, { "ties", "ti" },
	{ "caress", "caress" }, { "cats", "cat" },
	/* step 1b */
	{ "feed", "feed" }, { "agreed", "agre" }, { "plastered", "plaster" },
	{ "bled", "bled" }, { "motoring", "motor" }, { "sing", "sing" },
	{ "conflated", "conflat" }, { "troubled", "troubl" }, { "sized", "size" },
	{ "hopping", "hop" }, { "tanned", "tan" }, { "falling", "fall" },
	{ "hissing", "hiss" }, { "fizzed", "fizz" }, { "failing", "fail" },
	{ "filing", "file" },
	/* step 1c */
	{ "happy", "happi" }, { "sky", "sky" },
	/* step 2 examples, through steps 3-5 */
	{ "relational", "relat" }, { "conditional", "condit" }, { "rational", "ration" },
	{ "valenci", "valenc" }, { "hesitanci", "hesit" }, { "digitizer", "digit" },
	{ "conformabli", "conform" }, { "radicalli", "radic" },
	{ "differentli", "differ" }, { "vileli", "vile" }, { "analogousli", "analog" },
	{ "vietnamization", "vietnam" }, { "predication", "predic" },
	{ "operator", "oper" }, { "feudalism", "feudal" }, { "decisiveness", "decis" },
	{ "hopefulness", "hope" }, { "callousness", "callous" }, { "formaliti", "formal" },
	{ "sensitiviti", "sensit" }, { "sensibiliti", "sensibl" },
	/* step 3 examples */
	{ "triplicate", "triplic" }, { "formative", "form" }, { "formalize", "formal" },
	{ "electriciti", "electr" }, { "electrical", "electr" }, { "hopeful", "hope" },
	{ "goodness", "good" },
	/* step 4 examples */
	{ "revival", "reviv" }, { "allowance", "allow" }, { "inference", "infer" },
	{ "airliner", "airlin" }, { "gyroscopic", "gyroscop" }, { "adjustable", "adjust" },
	{ "defensible", "defens" }, { "irritant", "irrit" }, { "replacement", "replac" },
	{ "adjustment", "adjust" }, { "dependent", "depend" }, { "adoption", "adopt" },
	{ "homologou", "homolog" }, { "communism", "commun" }, { "activate", "activ" },
	{ "angulariti", "angular" }, { "homologous", "homolog" }, { "effective", "effect" },
	{ "bowdlerize", "bowdler" },
	/* step 5 examples */
	{ "probate", "probat" }, { "rate", "rate" }, { "cease", "ceas" },
	{ "controll", "control" }, { "roll", "roll" },
	/* the paper's complete examples */
	{ "generalizations", "gener" }, { "oscillators", "oscil" },
	/* CONNECT and friends (section 1 of the paper) */
	{ "connect", "connect" }, { "connected", "connect" }, { "connecting", "connect" },
	{ "connection", "connect" }, { "connections", "connect" },
	/* common words */
	{ "abate", "abat" }, { "ability", "abil" }, { "abilities", "abil" },
	{ "running", "run" }, { "runs", "run" }, { "easily", "easili" },
	{ "studies", "studi" }, { "studying", "studi" }, { "university", "univers" },
	{ "universal", "univers" }, { "argue", "argu" }, { "argued", "argu" },
	{ "argues", "argu" }, { "arguing", "argu" }, { "news", "new" },
	{ "national", "nation" }, { "nationality", "nation" }, { "skies", "ski" },
	{ "dying", "dy" }, { "lying", "ly" }, { "tied", "ti" }, { "cried", "cri" },
	{ "agreement", "agreement" }, { "traditional", "tradit" },
	{ "probability", "probabl" }, { "hopefully", "hopefulli" },
	{ "sensational", "sensat" }, { "catty", "catti" }, { "enjoy", "enjoi" },
	{ "say", "sai" }, { "syllable", "syllabl" }, { "playing", "plai" },
	{ "played", "plai" }, { "crying", "cry" }, { "caring", "care" },
	{ "cared", "care" }, { "cares", "care" }, { "relativity", "rel" },
	{ "knightly", "knightli" }, { "generous", "gener" }, { "yellow", "yellow" },
	{ "sly", "sly" }, { "meetings", "meet" },
	{ "happiness", "happi" }, { "fitness", "fit" }, { "effectiveness", "effect" },
	{ "useful", "us" }, { "dogs", "dog" }, { "glasses", "glass" }, { "gas", "ga" },
	{ "boss", "boss" }, { "snow", "snow" }, { "boxing", "box" }, { "fixed", "fix" },
	{ "showing", "show" }, { "filling", "fill" }, { "missing", "miss" },
	{ "buzzing", "buzz" }, { "organization", "organ" }, { "organizations", "organ" },
	{ "computer", "comput" }, { "computing", "comput" }, { "computation", "comput" },
	{ "computational", "comput" }, { "science", "scienc" }, { "sciences", "scienc" },
	{ "scientific", "scientif" }, { "cells", "cell" }, { "cellular", "cellular" },
	{ "genetic", "genet" }, { "genes", "gene" }, { "expression", "express" },
	{ "increased", "increas" }, { "treatment", "treatment" }, { "patients", "patient" },
	{ "associated", "associ" }, { "association", "associ" },
	{ "development", "develop" }, { "significantly", "significantli" },
	{ "reduced", "reduc" }, { "reduction", "reduct" }, { "analysis", "analysi" },
	/* the reference program's departures from the paper */
	{ "analogy", "analog" }, { "epidemiology", "epidemiolog" },
	{ "responsibly", "respons" }, { "reversibly", "revers" }, { "possibly", "possibl" },
	{ "as", "as" }, { "is", "is" }, { "a", "a" },
};

static void check(const char *word, const char *want)
{
	char buf[64];
	size_t n = strlen(word);

	memcpy(buf, word, n + 1);
	n = stem_porter(buf, n);
	buf[n] = '\0';
	is_str(buf, want, "stem %s", word);
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char yy[4096];

	ok(n >= 100, "%zu hand-checked words", n);
	for (size_t i = 0; i < n; i++)
		check(cases[i][0], cases[i][1]);

	/* y alternates consonant/vowel along a run ("yyy...ying"), without
	 * recursing once per letter. */
	memset(yy, 'y', sizeof yy - 4);
	memcpy(yy + sizeof yy - 4, "ing", 4);
	ok(stem_porter(yy, strlen(yy)) > 0, "long run of y's stems");

	/* Non-ASCII bytes are consonants and never cut: "cafés" -> "café". */
	{
		char w[] = "caf\xc3\xa9s";
		size_t m = stem_porter(w, strlen(w));

		w[m] = '\0';
		is_str(w, "caf\xc3\xa9", "UTF-8 word keeps its letters");
	}
	return tap_done();
}
