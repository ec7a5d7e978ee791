# mk/data.mk: CIFAR and ImageNet data, included by the top-level Makefile (before
# mk/experiments.mk, which reads <script>_DATA below).
#
#   make data            fetch, convert and md5-verify CIFAR-10 into $(DATA)/cifar-10-batches-bin
#   make data-cifar100   the same for CIFAR-100 (official archive or CIFAR_MIRROR only)
#   make data-imagenet IMAGENET=DIR   checks an ILSVRC-2012 folder (1,000 classes, 1,281,167
#                        training and 50,000 validation images; harness/lua/imagenet.lua gives
#                        the layouts) and writes the index every run reads,
#                        $(DATA)/imagenet/index.tsv
#   make data-imagenet-smoke   generates Table 1's smoke JPEG folder and its index in
#                        $(DATA)/imagenet-smoke (reproduce-table1 SCALE=smoke does it first)
#
# Variables: DATA (Makefile), CIFAR_MIRROR=dir holding cifar-10-binary.tar.gz or
# cifar-100-binary.tar.gz, CIFAR_URL (official base URL).
# A second `make data` finds the stamp .verified newer than the files and stops at once; with a
# file missing or changed it rebuilds from the verified download in $(DATA)/cache, offline.

PNG2BIN      := $(BUILD)/tools/cifar_png2bin

.PHONY: data data-cifar100

# Always run the script: it returns at once when the stamp is newer than every file, and
# re-verifies (and re-fetches from the cache) when a file went missing or changed.
data: | $(PNG2BIN)
	@sh tools/fetch_cifar.sh cifar10 $(DATA) $(PNG2BIN)

data-cifar100:
	@sh tools/fetch_cifar.sh cifar100 $(DATA)

$(PNG2BIN): tools/cifar_png2bin.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ -lpng $(SAN)

# tests/engine/test_data_files.c compiles the converter in (#include), so it depends on it too.
$(BUILD)/tests/test_data_files.o: tools/cifar_png2bin.c

# ---- ImageNet (Table 1) ----------------------------------------------------------------
IMAGENET ?=

.PHONY: data-imagenet data-imagenet-smoke

data-imagenet: $(EXE)
	@if [ -z "$(IMAGENET)" ]; then \
	    echo "make data-imagenet: give the ILSVRC-2012 folder holding train/<wnid>/*.JPEG and" \
	         "val/: make data-imagenet IMAGENET=/path/to/ILSVRC2012 (no machine here can" \
	         "download it; see README \"Table 1\")" >&2; exit 1; fi
	@MIXUP_DATA=$(DATA) ./$(EXE) tools/imagenet_index.lua "$(IMAGENET)" \
	    --out $(DATA)/imagenet/index.tsv

# The folder is written once; its index (80 files: instant) every time, so that it always
# has the current index format.
data-imagenet-smoke: $(EXE)
	@./$(EXE) tools/imagenet_smoke.lua $(DATA)/imagenet-smoke >/dev/null && \
	    ./$(EXE) tools/imagenet_index.lua $(DATA)/imagenet-smoke --expect own \
	        --out $(DATA)/imagenet-smoke/index.tsv

# The smoke scale generates its folder; the others need `make data-imagenet` first (a run
# without the index is skipped with that message).
table1_imagenet_DATA = $(if $(filter smoke,$(SCALE)),data-imagenet-smoke)
