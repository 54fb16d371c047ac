"""A local stand-in for EC2 Auto Scaling: the scaling arithmetic (`policy`) the fleet uses.

See docs/fleet.md. The controller that starts and stops node processes by command is built
on top of `policy`; like every part of `localaws`, it imports nothing of the site.
"""
