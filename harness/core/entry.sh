#!/bin/sh
# Main process of every harness node. The harness copies the rendered configuration in,
# applies it with the service's own tools, then writes /etc/harness/start.sh followed by
# /etc/harness/start.ready (in that order, in one archive: once the marker exists the script
# is complete); this script waits for the marker, runs the start script (the service starts
# in the background) and stays up, so that the service can be stopped and started again
# while the node lives on. After a container restart both exist and the service comes back
# at once. It is the main process of every node, whatever the image.
while [ ! -e /etc/harness/start.ready ]; do sleep 0.05; done
sh /etc/harness/start.sh
exec sleep infinity
