"""The application's state: which model is live, which came before, the run going on, the guess shown.

The window's widgets only show this state and pass on what the user asks for; the decisions are made
here, in plain Python, so a test can drive the app's logic (train, hand the weights over, save, load)
without a display. The rules:

* A finished model (loaded from a file, or at the end of a run) that goes live joins the list of
  recent models, newest first, so the one before it is always one step away (Models menu).
* While a run learns, its weights are handed to the live classifier; they are not a finished model.
  If the run fails, the model from before the run comes back. If it is stopped, the model at the end
  of its last finished epoch goes live under a name that says so, with that epoch's score; stopped
  before its first epoch ended, the model from before comes back.
* A guess is *current* when it reads the picture last sent, with the model live now, and no newer
  picture waits to be sent: only such a guess may be kept as a personal sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_draw.gui.state.live import Guess, LiveModel, save_live_model
from mnist_draw.gui.state.run import Failed, Outcome, RunState, TrainingJob

RECENT = 6  # finished models kept in the Models menu


@dataclass(frozen=True)
class Decision:
    """What the window should do: say ``message`` and, when ``hand_over``, give ``model`` to the live
    classifier (None: no model at all, the learning weights of a first run taken away)."""

    message: str
    model: LiveModel | None = None
    hand_over: bool = False


class AppState:
    def __init__(self):
        self.live: LiveModel | None = None
        self.recent: list[LiveModel] = []  # finished models, newest first
        self.before_run: LiveModel | None = None
        self.run: RunState | None = None
        self.last_guess: Guess | None = None
        self.sent = 0  # pictures sent to the classifier so far; a Guess's serial says which one it read
        self.model_folder: Path | None = None  # where the user last saved or loaded a model
        self.data_dir: str | None = None  # the folder MNIST was asked for in (None: the usual places)
        self.mistakes_wanted = False  # the Mistakes tab has been looked at: find each model's mistakes
        self.diagnosed: LiveModel | None = None  # the model whose mistakes are shown, or being found
        self.mistakes_failed = False  # ...and could not be found (MNIST missing)
        self.starting: list[Path] = []  # the models to start with, tried in turn until one goes live
        self._starting_now: str | None = None  # the one of them being tried (or the user's choice meanwhile)
        self._start_problem = ""  # why the model asked for at the start could not be used, said with the next
        self._said: LiveModel | None = None  # a model a run's end hands over, having said so already

    # ------------------------------------------------------------------------------------ models

    def model_went_live(self, model: LiveModel | None) -> str:
        """The classifier now reads with ``model`` (None: with none); returns what to say about it ("" for none)."""
        self.live = model
        self.starting.clear()
        if model is None or not model.finished:
            return ""
        self.recent = [model] + [m for m in self.recent if m is not model and not _same_file(m, model)]
        del self.recent[RECENT:]
        if model is self._said:  # the run's end said what goes live (weights still on their way may go live
            self._said = None  # before it): that stays on screen
            return ""
        if model.path is None:  # a trained model, picked again from the Models menu
            return f"{model.title} is live"
        self.model_folder = Path(model.path).parent
        trained = model.metadata.get("epochs_trained")
        details = f", trained on {model.metadata.get('trained_on', '?')}" if trained else ""
        if trained and trained != model.recipe.epochs:
            details += f" for {trained} of them"
        problem, self._start_problem = self._start_problem, ""
        return f"Model {model.title} from {model.path}: {model.recipe.describe()}{details}{problem}"

    def next_starting_model(self, failed: str | None = None, reason: str = "") -> Path | None:
        """The model to start with: the first (``failed`` None), or the next when the one being tried could not
        be used (``failed`` is its path, ``reason`` why, said again once the next one is live) and none is
        live; None when the list is done, or when what failed is not the one being tried."""
        if self.live is not None or not self.starting or failed != self._starting_now:
            return None
        if failed is not None:
            self._start_problem = f" ({Path(failed).name} could not be used: {reason})"
        path = self.starting.pop(0)
        self._starting_now = str(path)
        return path

    def model_chosen(self, path: str | None) -> None:
        """The user chose a model: a file (``path``) or one from the Models menu (None). The start's list waits
        on it: it goes on only if that file cannot be used either, and ends when any model goes live."""
        self._starting_now, self._said = path, None

    def save_live(self, path: str) -> tuple[bool, str]:
        """Save the live model to ``path`` atomically; returns whether it was saved and what to say
        (raises nothing)."""
        if self.live is None:
            return False, "No model to save yet: train one first"
        if not self.live.finished:
            return False, "The network is still learning: save it when the run ends (Stop keeps its last epoch)"
        try:
            saved = save_live_model(self.live, path)
        except OSError as exc:
            return False, f"Could not save {path}: {exc.strerror or exc}"
        self.model_folder = Path(saved).parent
        return True, f"Saved {self.live.title} to {saved}"

    # -------------------------------------------------------------------------------------- runs

    def run_started(self, job: TrainingJob) -> str:
        self.before_run = self.live
        self.run = RunState(job)
        if job.finetune is not None:
            return f"Fine-tuning {job.finetune.name} on your personal samples…"
        return f"Training {job.recipe.name}…"

    def weights_handed(self, model: LiveModel) -> None:
        """The run handed its learning weights to the live classifier (they may not be live yet)."""
        if self.run is not None:
            self.run.handed = model

    def run_failed(self, failed: Failed) -> Decision:
        """Weights handed over before the run failed may be broken: the model from before comes back."""
        return self._run_ended(f"Training failed: {failed.message}", self.before_run)

    def run_finished(self, outcome: Outcome) -> Decision:
        before = f"; {self.before_run.title} is one step away (Models menu)" if self.before_run else ""
        if outcome.model is None:  # stopped before an epoch was scored
            back = f": {self.before_run.title} is live again" if self.before_run else ""
            return self._run_ended(f"Stopped before the first epoch ended{back}", self.before_run)
        if outcome.cancelled:
            return self._run_ended(f"Stopped: {outcome.model.title} is live{before}", outcome.model)
        return self._run_ended(f"The model just trained is live: {outcome.model.title}. Save model… keeps it{before}",
                               outcome.model)

    def _run_ended(self, message: str, model: LiveModel | None) -> Decision:
        """The run is over and ``model`` is to be live (None: no model before, none scored). It is handed over
        whenever the run handed learning weights over, decided on what was handed, not on what is live yet
        (weights may still be on their way, and must not stay live after it), and else unless it is live."""
        handed = self.run.handed if self.run is not None else None
        self.run = None
        hand_over = handed is not None or (model is not None and model is not self.live)
        self._said = model if hand_over else None
        return Decision(message, model, hand_over)

    def finetune_blocker(self, samples: int) -> str | None:
        """Why "Fine-tune on my samples" cannot run now, or None when it can."""
        if self.run is not None:
            return "A run is going: wait for it to end, or stop it"
        if self.live is None or not self.live.finished:
            return "No model yet: load one (File ▸ Load model…) or train one first"
        if not samples:
            return "No personal samples yet: draw a digit, then press its key (or click its bar) to save it as one"
        return None

    # ---------------------------------------------------------------------------------- mistakes

    def mistakes_to_find(self) -> LiveModel | None:
        """The finished model whose mistakes should be found now, or None: wanted once the Mistakes tab
        has been looked at (reading MNIST costs memory and time), for each finished model that goes live."""
        model = self.live if self.live is not None and self.live.finished else self.diagnosed
        if not self.mistakes_wanted or model is None or model is self.diagnosed:
            return None
        self.diagnosed, self.mistakes_failed = model, False
        return model

    def mistakes_found(self, model: LiveModel, failed: bool) -> bool:
        """The answer for ``model`` came; False when it is about a model no longer wanted."""
        if model is not self.diagnosed:
            return False
        self.mistakes_failed = failed
        return True

    def mnist_found(self) -> None:
        """MNIST is there now (a folder chosen, or downloaded): mistakes that failed for want of it are
        found again."""
        if self.mistakes_failed:
            self.diagnosed, self.mistakes_failed = None, False

    # ------------------------------------------------------------------------------------ guesses

    def picture_sent(self) -> int:
        self.sent += 1
        return self.sent

    def guess_arrived(self, guess: Guess) -> None:
        self.last_guess = guess

    def guess_is_current(self, picture_waiting: bool) -> bool:
        """True when the guess shown reads the drawing as it is now, with the model live now."""
        guess = self.last_guess
        return (not picture_waiting and guess is not None and guess.serial == self.sent
                and guess.model is self.live)


def _same_file(a: LiveModel, b: LiveModel) -> bool:
    return a.path is not None and a.path == b.path
