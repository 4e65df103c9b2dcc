"""``connectoscope demo``: generate a synthetic dataset and run every capability end to end.

An application on top of the package (nothing below imports it). Each capability
contributes one step, a function ``demo_step(ctx: DemoContext) -> None`` in its own module
``connectoscope.demo.step_<name>``, listed in :data:`STEPS` in the order data flows. A step
records what it made with :meth:`DemoContext.add`; the demo prints the list, writes the
report page ``index.html``, and ends by telling the user what to open or run next.
"""

from __future__ import annotations

from ._context import DemoContext, DemoOutput
from ._run import STEPS, run_demo

__all__ = ["STEPS", "DemoContext", "DemoOutput", "run_demo"]
