# function.zip.mk: package tagwarden's function, dist/function.zip.
#
#   make -f function.zip.mk                   build dist/function.zip (ARCH=amd64)
#   make -f function.zip.mk ARCH=arm64        the same for arm64 (e.g. AWS Graviton);
#                                             ARCH is amd64 or arm64, nothing else
#   make -f function.zip.mk POLICIES=mine     ship the policies of folder mine instead
#   make -f function.zip.mk repack POLICIES=mine
#                                             re-zip the built bootstrap with other
#                                             policies, without building it again
#   make -f function.zip.mk size              print the zip and bootstrap sizes
#   make -f function.zip.mk clean             remove what this file built
#   make build-TagwardenFunction              what `sam build` runs (ARTIFACTS_DIR set)
#
# The zip holds `bootstrap` (a static Linux binary, mode 0755) and `policies/` (the
# *.yaml policy files of POLICIES, test cases left out). The function loads
# policies/ beside its code unless TAGWARDEN_POLICIES names another folder, so
# policies change without a new binary. The same sources give the same bytes:
# the binary is built with -trimpath and no build id or VCS stamp, and
# cmd/zipbuild writes sorted entries with fixed times and modes.

ARCH     ?= amd64
POLICIES ?= policies
DIST     ?= dist
GO       ?= go

ifneq ($(words $(ARCH)) $(filter amd64 arm64,$(ARCH)),1 $(ARCH))
$(error ARCH=$(ARCH): expected amd64 or arm64 (AWS x86_64 is amd64; aarch64 is arm64))
endif

STAGE := $(DIST)/.build/$(ARCH)
BIN   := $(STAGE)/bootstrap
ZIP   := $(DIST)/function.zip

GOBUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -tags lambda.norpc -trimpath \
	-buildvcs=false -ldflags='-s -w -buildid='

# copy-policies DEST: the policy files of $(POLICIES), without *_test.yaml/yml.
define copy-policies
	@test -d $(POLICIES) || { echo "POLICIES=$(POLICIES) is not a folder"; exit 1; }
	mkdir -p $(1)
	@n=0; for f in $(POLICIES)/*.yaml $(POLICIES)/*.yml; do \
	  case "$$f" in *_test.yaml|*_test.yml) continue;; esac; \
	  [ -f "$$f" ] || continue; cp "$$f" $(1)/ && chmod 0644 $(1)/$$(basename "$$f"); n=$$((n+1)); \
	done; [ $$n -gt 0 ] || { echo "no policy files (*.yaml) in $(POLICIES)"; exit 1; }
endef

# pack: stage bootstrap and policies/, then zip them reproducibly.
define pack
	rm -rf $(STAGE)/function
	mkdir -p $(STAGE)/function
	cp $(BIN) $(STAGE)/function/bootstrap
	chmod 0755 $(STAGE)/function/bootstrap
	$(call copy-policies,$(STAGE)/function/policies)
	$(GO) run -buildvcs=false ./cmd/zipbuild -o $(ZIP) $(STAGE)/function
	@echo "built $(ZIP) ($(ARCH))"
endef

.DEFAULT_GOAL := zip
.PHONY: zip bootstrap repack size clean build-TagwardenFunction

zip: bootstrap
	$(pack)

# Always handed to go build, whose cache makes an unchanged build instant.
bootstrap:
	mkdir -p $(STAGE)
	$(GOBUILD) -o $(BIN) ./cmd/bootstrap

repack:
	@test -x $(BIN) || { echo "no $(BIN): run make -f function.zip.mk first"; exit 1; }
	$(pack)

size: zip
	@printf 'function.zip %9d bytes  %s\n' $$(wc -c < $(ZIP)) $(ZIP)
	@printf 'bootstrap    %9d bytes  %s (%s)\n' $$(wc -c < $(BIN)) $(BIN) $(ARCH)
	@[ $$(wc -c < $(ZIP)) -lt 8388608 ] || echo "warning: function.zip is over 8 MiB"

clean:
	rm -rf $(DIST)/.build $(ZIP)

# AWS SAM's makefile build method: `sam build` runs `make build-<LogicalId>` with
# ARTIFACTS_DIR set (template.yaml's function is TagwardenFunction). Set ARCH to
# match the template's Architectures (arm64 for [arm64]).
build-TagwardenFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: sam build sets it"; exit 1; }
	mkdir -p $(ARTIFACTS_DIR)
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/bootstrap
	$(call copy-policies,$(ARTIFACTS_DIR)/policies)
