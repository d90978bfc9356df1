module fedmesh/test/netlab/nfqdelay

go 1.24
