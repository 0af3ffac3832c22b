# QR Event: the qr_event PostgreSQL 15 extension (PGXS) and the qr_gateway HTTP daemon.
#
#   make            build the extension and gateway/qr_gateway
#   make install    install both (the extension into PostgreSQL 15, the gateway into $(bindir_gw))
#   make run        private PostgreSQL + Redis + gateway on 127.0.0.1:8080 with a demo event
#   make test       every suite against throwaway servers; ends with "N passed, N failed"

EXTENSION  = qr_event
MODULE_big = qr_event
OBJS       = extension/qr_event.o extension/guc.o extension/account.o extension/password.o
DATA       = $(sort $(wildcard extension/qr_event--*.sql))
PGFILEDESC = "qr_event - leaderboards, keyset cursors and a hash-chained QR audit"
SHLIB_LINK = -lcrypto

REGRESS        = install schema constraints accounts
ISOLATION      = $(basename $(notdir $(wildcard tests/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=tests/isolation --load-extension=qr_event

EXTRA_CLEAN = qr_event.control results regression.diffs regression.out output_iso \
	$(GW_OBJS) gateway/qr_gateway $(UNIT_BINS) tests/gateway/unit/*.o

# The LLVM bitcode of Debian's PGXS is of no use here and needs a matching clang.
override with_llvm := no

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
GW_LIBS    = -lcivetweb -lpq -lhiredis -lcrypto -pthread
GW_SRCS    = $(sort $(wildcard gateway/*.c))
GW_OBJS    = $(GW_SRCS:.c=.o)
GW_LIBOBJS = $(filter-out gateway/main.o,$(GW_OBJS))
bindir_gw  ?= /usr/local/bin

all: gateway/qr_gateway

gateway/%.o: gateway/%.c $(wildcard gateway/*.h)
	$(GW_CC) $(GW_CFLAGS) -c -o $@ $<

gateway/qr_gateway: $(GW_OBJS)
	$(GW_CC) $(GW_CFLAGS) -o $@ $^ $(GW_LIBS)

install: install-gateway
install-gateway: gateway/qr_gateway
	install -d '$(DESTDIR)$(bindir_gw)'
	install -m 755 gateway/qr_gateway '$(DESTDIR)$(bindir_gw)/qr_gateway'

# --- gateway unit tests (cmocka, pure modules only) ------------------------------
UNIT_SRCS = $(sort $(wildcard tests/gateway/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=)

tests/gateway/unit/test_%: tests/gateway/unit/test_%.c $(GW_LIBOBJS)
	$(GW_CC) $(GW_CFLAGS) -o $@ $^ $(GW_LIBS) -lcmocka

unit-tests: $(UNIT_BINS)

# --- the two commands ----------------------------------------------------------------
deps:
	bash tests/harness/deps.sh

test: deps
	$(MAKE) all unit-tests
	$(MAKE) install
	bash tests/harness/test.sh

run: deps
	$(MAKE) all
	$(MAKE) install
	bash tests/harness/run.sh

.PHONY: deps test run install-gateway unit-tests
