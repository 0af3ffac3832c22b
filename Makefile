# QR Event: the qr_event PostgreSQL 15 extension (PGXS) and the qr_gateway HTTP daemon.
#
#   make            build the extension and gateway/qr_gateway
#   make install    install both (the extension into PostgreSQL 15, the gateway into $(bindir_gw))
#   make run        private PostgreSQL + Redis + gateway on 127.0.0.1:8080 with a demo event
#   make test       every suite against throwaway servers; ends with "N passed, N failed"
#   make test-asan  the gateway integration tests against gateway/qr_gateway.asan (ASan, UBSan)
#   make bench      benchmarks with same-run baselines (BENCH="cursor" picks sections,
#                   QR_BENCH_ROWS sets the data size); report in .bench/report/ (or
#                   QR_BENCH_REPORT_DIR): report.md, report.json, a PNG chart per section
#   make bench-publish  make bench of every section, its report copied to docs/bench/
#   make security-sqlmap  Debian's sqlmap against every route's parameters (no finding expected)
#   make memory     the gateway's resident memory over 100,000 requests (tests/gateway/t/memory.t)
#   make scaleout   two gateways on one Redis, a primary and a replica (tests/gateway/t/scaleout.t)
#   make faults     the fault suite: Redis, Postgres, backends, connections, timeouts and the
#                   gateway itself failing under steady load; one line per fault
#   make security  the security suite: tokens, authorisation (also under load), input limits, sqlmap;
#                  ends with "security: N passed, N failed, sqlmap N findings: pass"

EXTENSION  = qr_event
MODULE_big = qr_event
OBJS       = extension/qr_event.o extension/guc.o extension/account.o extension/password.o \
	extension/cursor_codec.o extension/cursor.o extension/paginate.o extension/paginate_list.o \
	extension/paginate_sql.o extension/leaderboard_page.o extension/leaderboard_rank.o \
	extension/leaderboard_capture.o extension/audit_hash.o extension/audit_verify.o \
	extension/scan_qr.o extension/audit_append.o extension/kept_plan.o extension/heap_append.o
DATA       = $(sort $(wildcard extension/qr_event--*.sql))
PGFILEDESC = "qr_event - leaderboards, keyset cursors and a hash-chained QR audit"
SHLIB_LINK = -lcrypto

REGRESS        = install schema constraints accounts paginate paginate_plan cursor_secret lists leaderboard_page leaderboard_rank record_play audit_chain qr_commands http_api
ISOLATION      = $(basename $(notdir $(wildcard tests/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=tests/isolation --load-extension=qr_event

EXTRA_CLEAN = qr_event.control results regression.diffs regression.out output_iso \
	$(GW_OBJS) gateway/qr_gateway gateway/live_page_html.h $(UNIT_BINS) tests/gateway/unit/*.o \
	tests/extension/unit/test_cursor_codec tests/fuzz/bin gateway/asan gateway/qr_gateway.asan

# The LLVM bitcode of Debian's PGXS is of no use here and needs a matching clang.
override with_llvm := no
# Rebuild objects when a header they include changes.
override autodepend := yes

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.DEFAULT_GOAL := all

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
all install installcheck:
	@echo "PostgreSQL 15 server development files are missing: run 'make deps' (or 'make test' / 'make run', which do)" >&2
	@exit 1
endif

# PGXS installs $(EXTENSION).control from the top directory.
qr_event.control: extension/qr_event.control
	cp $< $@

# --- gateway (its own strict flags, not PGXS's) ---------------------------------
GW_CC      ?= cc
GW_CFLAGS  ?= -O2 -g
GW_CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread \
	-I/usr/include/postgresql -Igateway
GW_LIBS    = -lcivetweb -lpq -lhiredis -lcrypto -lm -pthread
GW_SRCS    = $(sort $(wildcard gateway/*.c))
GW_OBJS    = $(GW_SRCS:.c=.o)
GW_LIBOBJS = $(filter-out gateway/main.o,$(GW_OBJS))
bindir_gw  ?= /usr/local/bin

all: gateway/qr_gateway

gateway/%.o: gateway/%.c $(wildcard gateway/*.h)
	$(GW_CC) $(GW_CFLAGS) -c -o $@ $<

gateway/qr_gateway: $(GW_OBJS)
	$(GW_CC) $(GW_CFLAGS) -o $@ $^ $(GW_LIBS)

# The live leaderboard page as one C string, live_page_html, plus the CSP sources
# that pin its one inline <script> and <style> by SHA-256 (live_page.c sends them).
gateway/live_page_html.h: gateway/live_page.html
	perl -MDigest::SHA=sha256_base64 -0777 -n \
		-e 'sub pin { my $$d = sha256_base64($$_[0]); $$d .= "=" x (-length($$d) % 4); return "\x27sha256-$$d\x27"; }' \
		-e 'my ($$js) = m{<script>(.*?)</script>}s or die "$$ARGV: no <script>\n";' \
		-e 'my ($$css) = m{<style>(.*?)</style>}s or die "$$ARGV: no <style>\n";' \
		-e 'print "/* Generated from $$ARGV by the Makefile: do not edit. */\n";' \
		-e 'printf "#define LIVE_PAGE_SCRIPT_SRC \"%s\"\n#define LIVE_PAGE_STYLE_SRC \"%s\"\n", pin($$js), pin($$css);' \
		-e 'print "static const char live_page_html[] =\n";' \
		-e 'for (split /^/m) { s/\n\z//; s/([\\"?])/\\$$1/g; s/([^\t\x20-\x7e])/sprintf("\\%03o", ord $$1)/ge; print "\t\"$$_\\n\"\n"; }' \
		-e 'print ";\n";' $< >$@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

gateway/live_page.o: gateway/live_page_html.h

install: install-gateway
install-gateway: gateway/qr_gateway
	install -d '$(DESTDIR)$(bindir_gw)'
	install -m 755 gateway/qr_gateway '$(DESTDIR)$(bindir_gw)/qr_gateway'

# --- gateway unit tests (cmocka, pure modules only) ------------------------------
UNIT_SRCS = $(sort $(wildcard tests/gateway/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=)

tests/gateway/unit/test_%: tests/gateway/unit/test_%.c $(GW_LIBOBJS)
	$(GW_CC) $(GW_CFLAGS) -o $@ $^ $(GW_LIBS) -lcmocka

unit-tests: $(UNIT_BINS) tests/extension/unit/test_cursor_codec

# --- the two commands ----------------------------------------------------------------
deps:
	bash tests/harness/deps.sh

test: deps
	$(MAKE) all unit-tests fuzz-build
	$(MAKE) install
	bash tests/harness/test.sh

run: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/harness/run.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/bench/run.sh $(BENCH)

bench-publish:
	$(MAKE) bench BENCH= QR_BENCH_PUBLISH=1

.PHONY: deps test run bench bench-publish install-gateway unit-tests

# --- make test-asan: the gateway integration tests against a sanitizer build ----------
# gateway/qr_gateway.asan is the gateway built from the same sources with AddressSanitizer
# (LeakSanitizer included) and UndefinedBehaviorSanitizer; its objects live in gateway/asan/
# so the normal build is untouched. Under QR_TEST_SANITIZED, tests/lib/QRTest.pm stops each
# gateway with SIGTERM (LeakSanitizer reports only at a clean exit) and fails the test when
# the gateway's log holds a sanitizer report. Not part of make test (several minutes).
# No LeakSanitizer suppressions: a gateway stopped by SIGTERM frees everything, civetweb's,
# libpq's, hiredis's and OpenSSL's memory included. detect_stack_use_after_return and
# strict_string_checks add checks that are off by default.
GW_ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -O1 -g
GW_ASAN_OBJS  = $(patsubst gateway/%.c,gateway/asan/%.o,$(GW_SRCS))
GW_ASAN_ENV   = QR_TEST_GATEWAY_OVERRIDE='$(CURDIR)/gateway/qr_gateway.asan' QR_TEST_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

gateway/asan/%.o: gateway/%.c $(wildcard gateway/*.h)
	@mkdir -p $(@D)
	$(GW_CC) $(GW_CFLAGS) $(GW_ASAN_FLAGS) -c -o $@ $<

gateway/asan/live_page.o: gateway/live_page_html.h

gateway/qr_gateway.asan: $(GW_ASAN_OBJS)
	$(GW_CC) $(GW_CFLAGS) $(GW_ASAN_FLAGS) -o $@ $^ $(GW_LIBS)

test-asan: deps
	$(MAKE) all gateway/qr_gateway.asan
	$(MAKE) install
	$(GW_ASAN_ENV) bash tests/harness/test.sh $(sort $(wildcard tests/gateway/t/*.t))

.PHONY: test-asan

# --- cursor codec: unit test and libFuzzer targets ---------------------------------
# The codec is pure C + OpenSSL, so it also builds outside PGXS with strict flags.
CODEC_CFLAGS = -O2 -g -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wdeclaration-after-statement -Iextension

tests/extension/unit/test_cursor_codec: tests/extension/unit/test_cursor_codec.c \
		extension/cursor_codec.c extension/cursor_codec.h
	$(GW_CC) $(CODEC_CFLAGS) -o $@ $(filter %.c,$^) -lcrypto -lcmocka

# Every tests/fuzz/<name>_fuzz.c becomes tests/fuzz/bin/<name>, seeded from
# tests/fuzz/corpus/<name>/. Runs work on a copy of the corpus in a temporary
# directory; FUZZ_MERGE=1 merges inputs that add coverage back into the corpus.
# Crash reproducers land in tests/fuzz/artifacts/.
FUZZ_CC            ?= clang
FUZZ_FLAGS          = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_MERGE         ?= 0
FUZZ_BINS = $(patsubst tests/fuzz/%_fuzz.c,tests/fuzz/bin/%,$(sort $(wildcard tests/fuzz/*_fuzz.c)))

tests/fuzz/bin/%: tests/fuzz/%_fuzz.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iextension -Igateway -o $@ $(filter %.c,$^) -lcrypto

tests/fuzz/bin/cursor_decode: extension/cursor_codec.c extension/cursor_codec.h \
	tests/fuzz/cursor_fuzz.h

tests/fuzz/bin/jwt_verify: gateway/jwt.c gateway/jwt.h gateway/json.c gateway/json.h tests/fuzz/b64url_oracle.h

tests/fuzz/bin/query_parse: gateway/query.c gateway/query.h gateway/json.c gateway/json.h \
	tests/fuzz/utf8_oracle.h

tests/fuzz/bin/lsn_parse: gateway/lsn.c gateway/lsn.h

tests/fuzz/bin/cache_value_decode: gateway/cache_store.c gateway/cache_store.h \
	gateway/deadline.c gateway/deadline.h

tests/fuzz/bin/json_utf8: gateway/json.c gateway/json.h tests/fuzz/utf8_oracle.h

tests/fuzz/bin/json_keys: gateway/json.c gateway/json.h

# router.c's table names every handler, which reach all of the gateway: route_match
# fuzzes that very table, with router.c instrumented and the rest of the gateway linked
# as built for it (no stubs; only router.c's code ever runs).
tests/fuzz/bin/route_match: tests/fuzz/route_match_fuzz.c gateway/router.c gateway/router.h \
		$(filter-out gateway/router.o,$(GW_LIBOBJS))
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread \
		-I/usr/include/postgresql -Igateway -o $@ $(filter %.c %.o,$^) $(GW_LIBS)

fuzz-build: $(FUZZ_BINS)

# Runs every fuzz target for $(1) seconds on a scratch copy of its corpus; ends with
#     fuzz: N targets, S s each, no crash: pass      (or: <target> failed ...: FAIL)
define fuzz_run
	@set -e; mkdir -p tests/fuzz/artifacts; \
	for bin in $(FUZZ_BINS); do \
		name=$${bin##*/}; \
		work=$$(mktemp -d); \
		cp -R tests/fuzz/corpus/$$name/. $$work/; \
		echo "fuzz: $$name for $(1) s"; \
		$$bin -max_total_time=$(1) -max_len=5000 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/artifacts/$$name- $$work \
			|| { rm -rf $$work; \
				echo "fuzz: $$name failed (reproducer in tests/fuzz/artifacts/): FAIL"; exit 1; }; \
		if [ "$(FUZZ_MERGE)" = 1 ]; then \
			$$bin -merge=1 -max_len=5000 tests/fuzz/corpus/$$name $$work; \
		fi; \
		rm -rf $$work; \
	done; \
	echo "fuzz: $(words $(FUZZ_BINS)) targets, $(1) s each, no crash: pass"
endef

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

# Rewrites the seed corpus of cursor_decode from tests/fuzz/cursor_seeds.c.
fuzz-seeds: tests/fuzz/cursor_seeds.c extension/cursor_codec.c tests/fuzz/cursor_fuzz.h
	@mkdir -p tests/fuzz/corpus/cursor_decode
	@tmp=$$(mktemp -d) && \
	$(GW_CC) $(CODEC_CFLAGS) -o $$tmp/cursor_seeds $(filter %.c,$^) -lcrypto && \
	$$tmp/cursor_seeds tests/fuzz/corpus/cursor_decode; rc=$$?; rm -rf $$tmp; exit $$rc

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds

# Random SQL from sqlsmith against the installed extension and the demo event, on a
# throwaway server, for SQLSMITH_SECONDS (180); fails on a backend crash in the server log
# (tests/fuzz/sqlsmith.sh; SQLSMITH_SEED, SQLSMITH_MAX_QUERIES and SQLSMITH_ARGS too).
fuzz-sql: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/fuzz/sqlsmith.sh

.PHONY: fuzz-sql

# Debian's sqlmap against the parameters of the gateway's routes (path, query, JSON body,
# bearer token) on loopback, against throwaway servers with the demo event
# (tests/security/sqlmap.sh; SQLMAP_ARGS adds options). A few minutes; not in make test.
security-sqlmap: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/security/sqlmap.sh

.PHONY: security-sqlmap

# The security suite (tests/security/run.sh): the token table, the authorisation matrix and
# the same matrix under load, error answers and input limits (tests/gateway/t/auth.t,
# authz_matrix.t, errors.t, tests/security/*.t) through tests/harness/test.sh, then
# tests/security/sqlmap.sh (a few minutes; SECURITY_SQLMAP=0 skips it). Ends with one line
#     security: N passed, N failed, sqlmap N findings: pass      (or: FAIL)
security: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/security/run.sh

.PHONY: security

# The fault suite (tests/faults/run.sh, tests/lib/QRFaults.pm): each fault under a steady
# loopback load against private servers, then nothing acknowledged lost, no code accepted
# twice, the audit chains verified. About three minutes; not in make test.
faults: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/faults/run.sh

.PHONY: faults

# One suite of make test on its own, with its own "N passed, N failed" line: the memory
# growth over 100,000 requests, and the scale-out checks (two gateways, one Redis, a
# primary and a streaming replica).
memory scaleout: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/harness/test.sh tests/gateway/t/$@.t

.PHONY: memory scaleout
