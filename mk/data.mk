# mk/data.mk: CIFAR data, included by the top-level Makefile.
#
#   make data            fetch, convert and md5-verify CIFAR-10 into $(DATA)/cifar-10-batches-bin
#   make data-cifar100   the same for CIFAR-100 (official archive or CIFAR_MIRROR only)
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
