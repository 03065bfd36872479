"""Display and keypad endpoint of the sim board: framebuffer, PNG, terminal
preview, key presses in.  See docs/drivers.md ("Display and keypad endpoint")."""

from host_sim.display.framebuffer import FrameBuffer, RectError
from host_sim.display.server import EndpointThread, PanelEndpoint

__all__ = ["EndpointThread", "FrameBuffer", "PanelEndpoint", "RectError"]
