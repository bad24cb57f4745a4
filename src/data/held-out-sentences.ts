/**
 * The held-out set's sentences: a grammar of its own (weather, travel, cooking, animals, music), written
 * and spoken forms as in sentence-grammar.ts. Every template fills at least one slot from a word list the
 * training grammar never uses, so no held-out sentence can occur in a training corpus of any size.
 */
import {
  generateUniqueSentences,
  joinSlots,
  numberSlot,
  wordSlot as word,
  type GrammarSentence,
  type SeededRandom,
  type Template,
} from './sentence-grammar.js';

// prettier-ignore
const CITIES = ['london', 'paris', 'tokyo', 'berlin', 'madrid', 'boston', 'cairo', 'oslo', 'dublin', 'vienna'];
const WEATHER = ['sunny', 'cloudy', 'windy', 'rainy', 'foggy', 'stormy', 'warm', 'freezing'];
const DAYTIMES = ['morning', 'afternoon', 'evening', 'night'];
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
// prettier-ignore
const RELATIVES = ['my uncle', 'my aunt', 'my cousin', 'my grandmother', 'our neighbour', 'my brother', 'my sister'];
const PREPARED = ['baked', 'bought', 'cooked', 'ordered', 'packed', 'peeled'];
// prettier-ignore
const FOODS = ['potatoes', 'apples', 'pancakes', 'sandwiches', 'carrots', 'lemons', 'onions', 'cookies', 'muffins'];
const MEALS = ['breakfast', 'lunch', 'dinner', 'supper', 'the picnic'];
// prettier-ignore
const LANDMARKS = ['bakery', 'library', 'bridge', 'church', 'fountain', 'museum', 'pharmacy', 'stadium', 'post office'];
const VEHICLES = ['ferry', 'coach', 'tram', 'night bus', 'express train'];
const INGREDIENTS = ['sugar', 'flour', 'butter', 'honey', 'pepper', 'salt', 'cinnamon', 'ginger'];
const DISHES = ['soup', 'salad', 'sauce', 'dough', 'tea', 'porridge', 'stew'];
const PETS = ['puppy', 'kitten', 'parrot', 'hamster', 'rabbit', 'tortoise'];
// prettier-ignore
const SPOTS = ['beside the fireplace', 'on the carpet', 'in the attic', 'under the stairs', 'near the piano', 'on the balcony'];
const WRITERS = ['george', 'helen', 'olga', 'ibrahim', 'nora', 'felix', 'rosa', 'martin'];
// prettier-ignore
const MONTHS = ['january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WILD_ANIMALS = ['foxes', 'owls', 'frogs', 'deer', 'swans', 'otters', 'beavers'];
const WATERS = ['lake', 'pond', 'harbour', 'waterfall', 'coast', 'canal'];
const INSTRUMENTS = ['piano', 'violin', 'trumpet', 'guitar', 'flute', 'cello'];
const QUALITIES = ['bright', 'mellow', 'sharp', 'soft', 'loud', 'hollow'];
const HALLS = ['concert hall', 'chapel', 'theatre', 'studio', 'cathedral'];
const MOVERS = ['the fox', 'a deer', 'the old dog', 'a squirrel', 'the goat', 'a hare'];
const MOTIONS = ['jumped', 'raced', 'wandered', 'crept', 'hurried'];
const FIELDS = ['meadow', 'frozen lake', 'wheat field', 'muddy path', 'hillside'];

const TEMPLATES: readonly Template[] = [
  (r) => [word(r.pick(MOVERS)), word(r.pick(MOTIONS)), word('across the'), word(r.pick(FIELDS))],
  (r) => [
    word(r.pick(CITIES)),
    word('will be'),
    word(r.pick(WEATHER)),
    word('on'),
    word(r.pick(WEEKDAYS)),
    word(r.pick(DAYTIMES)),
  ],
  (r) => [
    word(r.pick(RELATIVES)),
    word(r.pick(PREPARED)),
    numberSlot(r.int(2, 24)),
    word(r.pick(FOODS)),
    word('for'),
    word(r.pick(MEALS)),
  ],
  (r) => [
    word('turn'),
    word(r.pick(['left', 'right'])),
    word('after the'),
    word(r.pick(LANDMARKS)),
    word('and walk'),
    numberSlot(r.int(2, 9)),
    word('blocks'),
  ],
  (r) => [
    word('the'),
    word(r.pick(VEHICLES)),
    word('to'),
    word(r.pick(CITIES)),
    word('leaves from platform'),
    numberSlot(r.int(1, 16)),
  ],
  (r) => [
    word('add'),
    numberSlot(r.int(2, 6)),
    word('spoons of'),
    word(r.pick(INGREDIENTS)),
    word('to the'),
    word(r.pick(DISHES)),
  ],
  (r) => [word('our'), word(r.pick(PETS)), word('sleeps'), word(r.pick(SPOTS)), word('every'), word(r.pick(DAYTIMES))],
  (r) => [
    word(r.pick(WRITERS)),
    word('wrote'),
    numberSlot(r.int(2, 30)),
    word('letters to'),
    word(r.pick(RELATIVES)),
    word('last'),
    word(r.pick(MONTHS)),
  ],
  (r) => [word('how many'), word(r.pick(WILD_ANIMALS)), word('live near the'), word(r.pick(WATERS))],
  (r) => [
    word('the'),
    word(r.pick(INSTRUMENTS)),
    word('sounds'),
    word(r.pick(QUALITIES)),
    word('in the'),
    word(r.pick(HALLS)),
  ],
];

/** One held-out sentence; questions end with a question mark in the written form. */
export function generateHeldOutSentence(random: SeededRandom): GrammarSentence {
  const slots = random.pick(TEMPLATES)(random);
  return joinSlots(slots, slots[0].spoken === 'how many' ? '?' : '.');
}

/** `count` distinct held-out sentences. */
export function generateHeldOutSentences(count: number, random: SeededRandom): GrammarSentence[] {
  return generateUniqueSentences(count, random, new Set(), generateHeldOutSentence);
}
