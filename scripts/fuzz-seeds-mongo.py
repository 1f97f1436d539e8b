#!/usr/bin/env python3
"""The mongo-wire fuzz corpus seeds (BSON made with pymongo's bson: run with .venv-test/bin/python)."""
import os, struct
import bson
corpus=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'Fuzz/Corpus/mongo-wire')
os.makedirs(corpus, exist_ok=True)
def put(name, data):
    open(os.path.join(corpus, 'seed-'+name),'wb').write(data if isinstance(data,bytes) else data.encode())
doc = bson.encode({"ok": 1.0, "n": 1, "cursor": {"firstBatch": [{"_id": "taskrun-1", "Signed": bson.Binary(b'{"a":1}', 0), "Object": {"a": 1.0}}], "id": bson.Int64(0), "ns": "db.c"}})
put("reply.bson", doc)
body = bson.encode({"hello": 1, "$db": "admin"})
put("op-msg.bin", struct.pack('<iiiiI', 16+4+1+len(body), 7, 0, 2013, 0) + b'\x00' + body)
docs = bson.encode({"_id": 1})
seq = struct.pack('<i', 4 + len(b'documents\x00') + len(docs)) + b'documents\x00' + docs
body2 = bson.encode({"insert": "c", "$db": "db"})
put("op-msg-sequence.bin", struct.pack('<iiiiI', 16+4+1+len(body2)+1+len(seq), 8, 0, 2013, 0) + b'\x00' + body2 + b'\x01' + seq)
put("scram-server-first.txt", "r=fuzznonce%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
put("connection-string.txt", "mongodb://chains:s3cr%40t@db1.example:27018,[::1]:27019/tekton?authSource=admin&tls=true&replicaSet=rs0&w=majority")
put("srv.txt", "mongodb+srv://chains:pw@cluster0.chains.test/?srvServiceName=mongo")
q = struct.pack('>HHHHHH', 7, 0x8180, 1, 1, 0, 0) + b'\x01a\x01b\x00' + struct.pack('>HH', 33, 1)
rr = b'\xc0\x0c' + struct.pack('>HHIH', 33, 1, 300, 10) + struct.pack('>HHH', 1, 2, 27017) + b'\x01x\xc0\x0c'
put("dns-srv.bin", q + rr)
txt = b'\xc0\x0c' + struct.pack('>HHIH', 16, 1, 300, 14) + b'\x0dauthSource=db'
put("dns-txt.bin", struct.pack('>HHHHHH', 8, 0x8180, 1, 1, 0, 0) + b'\x01a\x01b\x00' + struct.pack('>HH', 16, 1) + txt)
print(sorted(os.listdir(corpus)))
