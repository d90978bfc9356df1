module fedmesh/netlab/nfqdelay

go 1.24
