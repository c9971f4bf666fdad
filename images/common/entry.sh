#!/bin/sh
# Main process of every harness node. The harness copies the rendered configuration in,
# applies it with the service's own tools, then writes /etc/harness/start.sh; this script
# waits for it, runs it (the service starts in the background) and stays up, so that the
# service can be stopped and started again while the node lives on. After a container
# restart the start script exists already and the service comes back at once.
while [ ! -e /etc/harness/start.sh ]; do sleep 0.05; done
sh /etc/harness/start.sh
exec sleep infinity
