"""The template backend's phrase book: the wordings of each kind of sentence, and the seeded
choice among them.

Each kind of sentence the template renderer (``template.py``) says (a computation, a
condition, a loop round, a summary, the opening and closing) has several phrasings here.
``Phrasing`` picks one per sentence by a hash of the execution and the sentence's place, so
the corpus is not one sentence pattern yet the same execution always gives the same text.
What to say at each step is decided in ``template.py``; this module only words it.
"""

from __future__ import annotations

from typing import Any

import xxhash

from tracepile.translation.trace_model import Execution

# Several phrasings per kind of sentence. Each keeps its claims (inline code) and, for a
# condition, the words "line {line}" before "{test} is true/false", which the verifier reads.
PHRASES: dict[str, tuple[str, ...]] = {
    "open_call": (
        "We call {call} and follow the code line by line.",
        "Let us trace {call} one step at a time.",
        "To find what {call} returns, we walk through the code as it runs.",
        "Running {call}, we keep track of every variable as the lines execute.",
        "We evaluate {call} by hand, statement by statement.",
        "The task is to predict {call}, so we execute its body in order.",
        "Here {call} is invoked, and we follow its statements as they run.",
        "Consider the call {call}; we go through it line by line, noting each value.",
    ),
    "open_script": (
        "We run the program {given} and follow the code line by line.",
        "Let us run the program {given}, tracking the variables as each line executes.",
        "The program runs {given}; we trace it one statement at a time.",
        "We execute the script {given} by hand, line after line.",
    ),
    "arguments": (
        "The parameters start as {states}.",
        "At the start, {states}.",
        "The arguments arrive as {states}.",
        "So on entry {states}.",
        "Its inputs are {states}.",
        "The function receives {states}.",
        "We begin with {states}.",
        "Inside the function, {states} to begin with.",
    ),
    "calc": (
        "Line {line} computes {source}: {calc}.",
        "On line {line} we substitute the current values: {calc}.",
        "Line {line}: plugging in the values gives {calc}.",
        "Next, line {line} evaluates {source} as {calc}.",
        "With the values we have, line {line} works out {calc}.",
        "Line {line} updates the variable, {calc}.",
        "Line {line} recalculates {name} from {source}, which gives {calc}.",
        "Working out line {line} with the current numbers: {calc}.",
        "The arithmetic of line {line} is {calc}.",
    ),
    "const": (
        "Line {line} sets {state}.",
        "Line {line} initialises {state}.",
        "On line {line}, {state}.",
        "Line {line} stores {state}.",
        "We assign {state} on line {line}.",
        "To start, line {line} gives {state}.",
        "Line {line} puts a fixed value in place: {state}.",
        "A fresh value comes from line {line}: {state}.",
    ),
    "copy": (
        "Line {line} copies the value over: {state}.",
        "Line {line} takes {source} as it is, so {state}.",
        "On line {line}, {name} receives {source}: {state}.",
        "Line {line} assigns {source} to {name}, giving {state}.",
    ),
    "same": (
        "Line {line} recomputes {name} from {source}, and it stays {state}.",
        "On line {line}, {source} leaves the value as it was: {state}.",
        "Line {line} assigns {name} again; the value does not move from {state}.",
        "After line {line}, {name} is unchanged at {state}.",
        "Line {line} converts {name} with {source}; it remains {state}.",
        "The assignment on line {line} gives back the same value, {state}.",
        "Line {line} rebinds {name} to {source}, still {state}.",
    ),
    "helper": (
        "Line {line} calls {source}, which returns what becomes {state}.",
        "The call {source} on line {line} comes back with {state}.",
        "Line {line} hands the work to {source}; its result gives {state}.",
        "Calling {source} (line {line}) produces {state}.",
        "On line {line}, {source} returns, and we get {state}.",
        "Line {line} needs {source}; that call returns, and {state}.",
        "We let {source} do its job on line {line} and store the outcome: {state}.",
        "The result of {source}, computed on line {line}, is kept as {state}.",
        "On line {line} the program asks {source} for a value and receives {state}.",
        "Line {line} relies on {source}, so afterwards {state}.",
    ),
    "value": (
        "Line {line} evaluates {source}, giving {state}.",
        "From {source}, line {line} gets {state}.",
        "Line {line} computes {source}; now {state}.",
        "Evaluating {source} on line {line} yields {state}.",
        "On line {line}, {source} works out to {state}.",
        "Line {line} builds {state} from {source}.",
        "The expression {source} on line {line} produces {state}.",
    ),
    "several": (
        "Line {line} assigns several names at once: {states}.",
        "After line {line}, {states}.",
        "Line {line} leaves us with {states}.",
        "Once line {line} runs, {states}.",
    ),
    "if_true": (
        "On line {line}, {test} is true, so the block under it runs.",
        "Line {line} checks whether {test} is true, and it is, so we enter that branch.",
        "At line {line} the condition {test} is true, and execution continues inside at line {next}.",
        "Line {line}: since {test} is true, the body of this if is taken.",
        "The test on line {line}, {test} is true, so line {next} runs next.",
        "Checking line {line}: {test} is true, so control enters the block.",
        "Here at line {line}, {test} is true, which sends us to line {next}.",
    ),
    "if_false": (
        "On line {line}, {test} is false, so the block is skipped and we go to line {next}.",
        "At line {line}, {test} is false; that branch is not taken.",
        "Line {line}: because {test} is false, execution jumps to line {next}.",
        "The condition on line {line}, {test} is false, so its body does not run.",
        "Line {line} finds {test} is false and moves on to line {next}.",
        "Checking line {line}: {test} is false, so control passes to line {next}.",
        "Since on line {line} {test} is false, we skip this branch.",
        "Here at line {line}, {test} is false; the if body is bypassed.",
    ),
    "while_true": (
        "Line {line} checks the loop condition: {test} is true, so the loop body runs again.",
        "At line {line}, {test} is true, so we go around the while loop once more.",
        "The while test on line {line}, {test} is true; the loop continues.",
        "On line {line}, {test} is true, and the loop carries on at line {next}.",
    ),
    "while_false": (
        "Line {line} checks the loop condition: {test} is false, so the loop ends.",
        "At line {line}, {test} is false, so we leave the while loop and continue at line {next}.",
        "The while test on line {line}, {test} is false; the loop is over.",
        "On line {line}, {test} is false, and execution moves past the loop to line {next}.",
    ),
    "test_unknown": (
        "Line {line} tests {source}; execution goes on at line {next}.",
        "Line {line} checks {source}, and the next line to run is line {next}.",
        "After the check {source} on line {line}, execution continues at line {next}.",
    ),
    "for_round": (
        "Round {round} of the loop on line {line}: {states}.",
        "The loop on line {line} moves to its next item, {states} (pass {round}).",
        "Line {line} starts iteration {round} with {states}.",
        "Iteration {round}: the for loop on line {line} gives {states}.",
        "Pass {round} through the loop at line {line} begins with {states}.",
        "Next the loop at line {line} hands us {states}; this is round {round}.",
        "For round {round}, line {line} binds {states}.",
        "We are now in pass {round} of the line {line} loop, with {states}.",
    ),
    "for_done": (
        "The loop on line {line} has no items left after {rounds} round(s), so line {next} comes next.",
        "Line {line} finds nothing more to iterate over; the loop is done and line {next} follows.",
        "After {rounds} round(s) the for loop on line {line} is finished.",
        "The loop at line {line} is exhausted, so we move on to line {next}.",
    ),
    "for_unknown": (
        "Line {line} runs the loop header {source}.",
        "The loop header {source} on line {line} runs.",
    ),
    "call_changes": (
        "Line {line} runs {source}, after which {states}.",
        "After {source} on line {line}, {states}.",
        "Line {line} calls {source}; now {states}.",
        "Executing {source} (line {line}) changes the state: {states}.",
        "Once line {line} has run {source}, {states}.",
        "Line {line} modifies the data through {source}, so {states}.",
        "The effect of {source} on line {line}: {states}.",
    ),
    "call_plain": (
        "Line {line} runs {source}.",
        "Next comes {source} on line {line}.",
        "Line {line} executes {source}.",
        "Then line {line} evaluates {source}.",
    ),
    "return_calc": (
        "Line {line} returns {source}, that is {calc}.",
        "Finally line {line} gives back {source}: {calc}.",
        "The return on line {line} computes {calc}.",
        "Line {line} hands back {calc}.",
    ),
    "return_plain": (
        "Line {line} returns {source}.",
        "The function reaches line {line} and returns {source}.",
        "Line {line} ends the call with {source}.",
        "Execution reaches the return on line {line}: {source}.",
        "With that, line {line} returns {source} to the caller.",
        "Nothing is left but line {line}, which returns {source}.",
        "The last step is line {line}: return {source}.",
        "Line {line} passes {source} back as the result.",
    ),
    "define": (
        "Line {line} defines {name}.",
        "On line {line} the definition of {name} is made.",
        "Line {line} sets up {name} for later use.",
    ),
    "import": (
        "Line {line} imports {names}.",
        "On line {line}, {names} is imported.",
        "Line {line} brings in {names}.",
    ),
    "break": (
        "Line {line} breaks out of the loop.",
        "The break on line {line} leaves the loop.",
        "Line {line} stops the loop early with a break.",
    ),
    "continue": (
        "Line {line} skips straight to the next round of the loop.",
        "The continue on line {line} jumps back to the loop header.",
    ),
    "other": (
        "Line {line} runs {source}.",
        "Next, line {line}: {source}.",
        "Line {line} executes {source}.",
    ),
    "other_changes": (
        "Line {line} runs {source}, and then {states}.",
        "After line {line} ({source}), {states}.",
    ),
    "recursion": (
        "The recursive call inside it gives {calls}.",
        "Here the function calls itself: {calls}.",
        "Its recursive call comes back with {calls}.",
    ),
    "summary": (
        "The same lines ({lines}) keep repeating for {count} more steps.",
        "From here lines {lines} keep repeating, {count} steps in all.",
        "Lines {lines} keep repeating for another {count} steps.",
        "For the next {count} steps, lines {lines} keep repeating.",
    ),
    "summary_some": (
        "{lines} also run(s) in that stretch, but not in every round.",
        "Not every round reaches {lines}.",
        "{lines} run(s) only in some of those rounds, or around them.",
    ),
    "summary_plain": (
        "The next {count} steps run {lines}.",
        "Over the next {count} steps the program works through {lines}.",
        "Then {count} steps go by on {lines}.",
    ),
    "summary_rounds": (
        "That is {rounds} more round(s) of the loop on line {line}.",
        "The loop on line {line} makes {rounds} more pass(es) in that stretch.",
        "In that stretch the loop on line {line} starts {rounds} more round(s).",
    ),
    "raises": (
        "Line {line}, {source}, raises an exception here.",
        "Running {source} on line {line} raises an exception.",
        "On line {line}, {source} fails with an exception.",
    ),
    "history": (
        "Along the way {name} takes the values {history}, ending at {state}.",
        "Meanwhile {name} runs through {history}, ending at {state}.",
        "{name} moves through {history}, ending at {state}.",
        "The values of {name} go {history}, ending at {state}.",
        "Over these steps {name} passes through {history}, ending at {state}.",
        "Step by step, {name} becomes {history}, ending at {state}.",
    ),
    "close_call": (
        "The function returns {answer}.",
        "So the call returns {answer}.",
        "The result of the call is {answer}.",
        "The function therefore gives back {answer}.",
        "That value, {answer}, is what the call produces.",
        "Putting it together, the output is {answer}.",
        "We end up with {answer} as the return value.",
    ),
    "close_script": (
        "The program prints {printed}.",
        "So the output of the program is {printed}.",
        "In the end the program has printed {printed}.",
    ),
}


class Phrasing:
    """Picks a phrasing per sentence: xxhash of the execution and the sentence's place, so
    the choice is spread across the corpus yet fixed for a given execution."""

    def __init__(self, execution: Execution) -> None:
        self.seed = f"{execution.entry_point}\0{execution.input_json}\0{execution.code}"

    def say(self, kind: str, place: int, **fields: Any) -> str:
        options = PHRASES[kind]
        choice = xxhash.xxh64_intdigest(f"{self.seed}\0{kind}\0{place}".encode()) % len(options)
        text = options[choice].format(**fields)
        return text[0].upper() + text[1:]
