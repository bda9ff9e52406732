"""One JSON line from a facebookresearch/dlrm run log (../shared/tools/device/fb-dlrm/run.sh):
its end-to-end ms/it readings, samples/s over the readings after the first, and the last test AUC.

    python3 fb_dlrm_summary.py RUN_LOG DEVICE_NAME ROWS [BATCH]
"""
import json
import re
import sys

log, name, rows = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3])
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 2048
ms = [float(x) for x in re.findall(r"([0-9.]+) ms/it", log)]
auc = re.findall(r"auc ([0-9.]+)", log)
steady = ms[1:] or ms
print(json.dumps({"device": name, "peer": "facebookresearch/dlrm", "rows": rows, "split": "dlrm", "batch": batch, "ms_per_it": ms,
                  "samples_per_s": round(batch * 1000 * len(steady) / sum(steady)) if steady else None, "test_auc": float(auc[-1]) if auc else None}))
