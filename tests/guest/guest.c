// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lm-guest: the lab's bare-metal guest. It fills a working set with non-zero
 * data (so QEMU cannot send it as zero pages), then dirties it at a given rate,
 * one byte per 4 KiB page, and reports on COM1 what it really did.
 *
 * Command line (multiboot, i.e. QEMU -append):
 *   wss=MIB          working set size in MiB (default 64)
 *   rate=MIB|max     dirty rate in MiB/s; 0 = idle (default), max = no pacing
 *   pattern=seq|random  page order (random: pages can repeat within a round)
 *   report_ms=MS     report period (default 1000)
 *   pace=hlt|spin    wait for the schedule in hlt (default: little host CPU)
 *                    or spinning (the guest then always wants the CPU, so a
 *                    vCPU throttle of p % cuts its rate to (100-p) %, as for
 *                    a CPU-bound workload; hlt pacing absorbs part of it)
 *
 * Pacing: time is the TSC (its rate from kvmclock, else timed against PIT
 * channel 2). The guest writes
 * what its schedule allows, then sleeps (hlt) until the next PIT tick. Time in
 * which the vCPU did not run at all (a gap longer than GAP_US between two
 * looks at the clock: QEMU's throttle, migration downtime, host scheduling) is
 * not made up for, like a workload that only dirties while it runs; it is
 * reported as stalled_ms.
 *
 * Output lines (all start with "lm-guest: "):
 *   config wss_mib=.. wss_pages=.. rate_pages_s=..|max pattern=.. mem_mib=.. tsc_khz=.. clock=..
 *   filled N pages in M ms
 *   t_ms=.. pages_written=.. rate_pages_s=.. stalled_ms=..   (at the start, then every report_ms)
 * t_ms counts from the guest's start; pages_written from the end of the fill.
 */
#include <stdint.h>

#define PAGE_SIZE	4096u
#define WSS_BASE	0x400000u	/* 4 MiB: above the image, its stack and the multiboot info */
#define PIT_HZ		1193182u
#define TICK_HZ		250u		/* hlt wake-up period: 4 ms */
#define GAP_US		5000u		/* longer than a tick + slack: the vCPU was not running */
#define CHUNK_PAGES	256u		/* pages written between two looks at the clock */
#define SPIN_GAP_US	2000u		/* pace=spin: the loop looks at the clock every few us */
#define SPIN_CHUNK_PAGES 16u		/* even with a dirty-logging fault per page, well under 1 ms */
#define MAX_CMDLINE	256

volatile uint32_t guest_ticks;	/* incremented by irq_timer (boot.S) */

void irq_timer(void);
void irq_other(void);
void cpu_exception(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* ---- COM1 ---- */

#define COM1 0x3f8

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO on, cleared */
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_u64(uint64_t v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

static void put_kv(const char *key, uint64_t v)
{
	puts_serial(key);
	put_u64(v);
}

void guest_fatal_exception(void)
{
	puts_serial("lm-guest: error: CPU exception, guest stopped\n");
}

/* ---- command line ---- */

struct params {
	uint32_t wss_mib;
	uint32_t rate_mib;	/* 0 = idle */
	int rate_max;
	int random;
	int spin;		/* pace=spin: busy-wait instead of hlt */
	uint32_t report_ms;
};

static int word_is(const char *s, const char *word)
{
	while (*word)
		if (*s++ != *word++)
			return 0;
	return *s == ' ' || *s == '\0';
}

static uint32_t parse_u32(const char *s)
{
	uint32_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	return v;
}

static const char *value_of(const char *s, const char *key)
{
	while (*key)
		if (*s++ != *key++)
			return 0;
	return s;
}

static void parse_cmdline(const char *s, struct params *p)
{
	const char *v;

	while (*s) {
		while (*s == ' ')
			s++;
		if ((v = value_of(s, "wss=")))
			p->wss_mib = parse_u32(v);
		else if ((v = value_of(s, "rate="))) {
			p->rate_max = word_is(v, "max");
			p->rate_mib = p->rate_max ? 0 : parse_u32(v);
		} else if ((v = value_of(s, "pattern=")))
			p->random = word_is(v, "random");
		else if ((v = value_of(s, "pace=")))
			p->spin = word_is(v, "spin");
		else if ((v = value_of(s, "report_ms=")))
			p->report_ms = parse_u32(v);
		while (*s && *s != ' ')
			s++;
	}
}

/* ---- interrupts: PIC remapped to 32-47, only IRQ0 (PIT) unmasked ---- */

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_hi;
} __attribute__((packed));

static struct idt_entry idt[48];

static void idt_set(int vec, void (*fn)(void))
{
	uint32_t off = (uint32_t)fn;
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[vec] = (struct idt_entry){ (uint16_t)off, cs, 0, 0x8e, (uint16_t)(off >> 16) };
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Route the PIC through the local APIC ("virtual wire": LINT0 = ExtINT).
 * SeaBIOS leaves it so; qboot does not, and then the PIT tick never wakes
 * the guest from hlt.
 */
static void lapic_virtual_wire(void)
{
	uint64_t base = rdmsr(0x1b);	/* IA32_APIC_BASE */
	volatile uint32_t *apic;

	if (!(base & (1u << 11)))	/* APIC disabled: the PIC drives INTR directly */
		return;
	apic = (volatile uint32_t *)(uint32_t)(base & 0xfffff000u);
	apic[0xf0 / 4] = 0x100 | 47;	/* enabled; spurious vector 47 (irq_other) */
	apic[0x350 / 4] = 0x700;	/* LINT0: ExtINT, unmasked */
	apic[0x360 / 4] = 0x400;	/* LINT1: NMI */
}

static void interrupts_init(int spin)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (uint32_t)idt,
	};
	uint16_t div = PIT_HZ / TICK_HZ;
	int i;

	for (i = 0; i < 32; i++)
		idt_set(i, cpu_exception);
	idt_set(32, irq_timer);
	for (i = 33; i < 48; i++)
		idt_set(i, irq_other);
	__asm__ volatile("lidt %0" : : "m"(idtr));

	outb(0x20, 0x11); outb(0xa0, 0x11);	/* ICW1: init, ICW4 follows */
	outb(0x21, 0x20); outb(0xa1, 0x28);	/* vector bases */
	outb(0x21, 0x04); outb(0xa1, 0x02);	/* cascade on IRQ2 */
	outb(0x21, 0x01); outb(0xa1, 0x01);	/* 8086 mode */
	/* Only IRQ0, and not even that when spinning: a pending interrupt
	 * the guest never takes would only cost exits. */
	outb(0x21, spin ? 0xff : 0xfe); outb(0xa1, 0xff);

	lapic_virtual_wire();

	outb(0x43, 0x34);			/* channel 0, lo/hi, rate generator */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

/* Sleep until the next interrupt (the PIT tick at the latest). */
static inline void wait_tick(void)
{
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* ---- clock ---- */

static uint64_t tsc_per_ms, tsc_per_us, tsc_start;

/* Count TSC ticks over 50 ms of PIT channel 2 (gated through port 0x61). */
static uint64_t tsc_per_ms_from_pit(void)
{
	const uint32_t count = PIT_HZ / 20;
	uint64_t t0, t1;

	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));	/* gate on, speaker off */
	outb(0x43, 0xb0);					/* channel 2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	t1 = rdtsc();
	return (t1 - t0) / 50;
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* KVM's pvclock page: the host's exact TSC-to-ns scale. */
struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((aligned(32)));

static struct pvclock kvmclock;

#define KVM_SIGNATURE_EBX 0x4b4d564b	/* "KVMK" */
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/*
 * Under KVM, read the TSC frequency from kvmclock: exact, where timing the
 * PIT from an emulated, descheduled vCPU was off by up to 8 % here. Returns
 * 0 when not on KVM.
 */
static uint64_t tsc_per_ms_from_kvmclock(void)
{
	uint32_t a, b, c, d, mul;
	uint64_t khz;
	int shift;

	cpuid(0x40000000, &a, &b, &c, &d);
	if (b != KVM_SIGNATURE_EBX || a < 0x40000001)
		return 0;
	cpuid(0x40000001, &a, &b, &c, &d);
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	__asm__ volatile("wrmsr" : : "c"(MSR_KVM_SYSTEM_TIME_NEW),
			 "a"((uint32_t)&kvmclock | 1), "d"(0) : "memory");
	mul = *(volatile uint32_t *)&kvmclock.tsc_to_system_mul;
	shift = *(volatile int8_t *)&kvmclock.tsc_shift;
	/* Stop the host updating our page: it lives in .bss. */
	__asm__ volatile("wrmsr" : : "c"(MSR_KVM_SYSTEM_TIME_NEW), "a"(0), "d"(0) : "memory");
	if (!mul)
		return 0;
	/* ns = ((tsc << shift) * mul) >> 32  =>  TSC ticks per ms = 2^32 * 1e6 / (mul << shift) */
	khz = (1000000ull << 32) / mul;
	return shift >= 0 ? khz >> shift : khz << -shift;
}

static const char *clock_source = "pit";

static void tsc_calibrate(void)
{
	tsc_per_ms = tsc_per_ms_from_kvmclock();
	if (tsc_per_ms)
		clock_source = "kvmclock";
	else
		tsc_per_ms = tsc_per_ms_from_pit();
	tsc_per_us = tsc_per_ms / 1000;
	if (!tsc_per_us)
		tsc_per_us = 1;
}

static uint64_t now_us(void)
{
	return (rdtsc() - tsc_start) / tsc_per_us;
}

/* ---- the work ---- */

static uint32_t lcg = 12345;

/*
 * Write one byte into each of n pages following *page, in the pattern's
 * order. Under instruction emulation every instruction counts, hence the
 * plain pointer walk for the sequential case.
 */
static void write_pages(volatile uint8_t *base, uint32_t npages, int random,
			uint32_t *page, uint32_t n, uint8_t *val)
{
	uint32_t i;

	if (random) {
		while (n--) {
			lcg = lcg * 1664525u + 1013904223u;
			i = lcg % npages;
			base[i * PAGE_SIZE] = *val;
		}
		return;
	}
	while (n) {
		uint32_t run, start = *page + 1 < npages ? *page + 1 : 0;
		volatile uint8_t *p, *end;

		if (start == 0)
			*val = (uint8_t)(*val + 1) | 1;	/* a new pass; never zero */
		run = npages - start < n ? npages - start : n;
		p = base + start * PAGE_SIZE;
		for (end = p + run * PAGE_SIZE; p != end; p += PAGE_SIZE)
			*p = *val;
		*page = start + run - 1;
		n -= run;
	}
}

struct progress {
	uint64_t written;	/* pages written since the fill */
	uint64_t stalled_us;	/* time the vCPU did not run, not made up for */
	uint64_t last_report_us, last_report_written;
};

static void report(struct progress *pr, uint64_t t_us)
{
	uint64_t dt_ms = (t_us - pr->last_report_us) / 1000;
	uint64_t rate = dt_ms ? (pr->written - pr->last_report_written) * 1000 / dt_ms : 0;

	put_kv("lm-guest: t_ms=", t_us / 1000);
	put_kv(" pages_written=", pr->written);
	put_kv(" rate_pages_s=", rate);
	put_kv(" stalled_ms=", pr->stalled_us / 1000);
	putc_serial('\n');
	pr->last_report_us = t_us;
	pr->last_report_written = pr->written;
}

static void run(const struct params *p, uint32_t npages)
{
	volatile uint8_t *base = (volatile uint8_t *)WSS_BASE;
	uint64_t rate_pps = (uint64_t)p->rate_mib * (1024 * 1024 / PAGE_SIZE);
	uint64_t report_us = (uint64_t)p->report_ms * 1000;
	uint64_t gap_us = p->spin ? SPIN_GAP_US : GAP_US;
	uint32_t chunk = p->spin ? SPIN_CHUNK_PAGES : CHUNK_PAGES;
	uint64_t active_us = 0;		/* time the vCPU ran since dirtying began */
	struct progress pr = { 0 };
	uint32_t page = npages - 1;
	uint64_t last = now_us();
	uint8_t val = 2;

	/* A first report at pages_written=0 marks where the dirtying starts. */
	report(&pr, last);
	for (;;) {
		uint64_t t = now_us(), dt = t - last, allowed, n;

		last = t;
		if (dt > gap_us) {
			/* Not running (throttle, downtime, host): hlt pacing keeps one
			 * gap's worth, as a tick may have been due; spinning keeps none. */
			uint64_t keep = p->spin ? 0 : gap_us;

			pr.stalled_us += dt - keep;
			dt = keep;
		}
		active_us += dt;
		if (t - pr.last_report_us >= report_us) {
			report(&pr, t);
			last = now_us();	/* the serial port is slow: not a stall */
		}

		if (p->rate_max)
			n = chunk;
		else {
			allowed = rate_pps * active_us / 1000000;
			n = allowed > pr.written ? allowed - pr.written : 0;
			if (n > chunk)
				n = chunk;
		}
		if (!n) {
			if (p->spin)
				__asm__ volatile("pause");
			else
				wait_tick();
			continue;
		}
		pr.written += n;
		write_pages(base, npages, p->random, &page, (uint32_t)n, &val);
	}
}

struct multiboot_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

void guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
	struct params p = { .wss_mib = 64, .report_ms = 1000 };
	static char cmdline[MAX_CMDLINE];
	uint32_t mem_mib = 0, npages, i;
	volatile uint8_t *base = (volatile uint8_t *)WSS_BASE;
	uint64_t t0;

	serial_init();
	tsc_calibrate();
	tsc_start = rdtsc();
	if (magic != 0x2badb002) {
		puts_serial("lm-guest: error: not started by a multiboot loader\n");
		return;
	}
	/* Copy the command line first: the working set may cover where it lives. */
	if (mbi->flags & (1u << 2)) {
		const char *s = (const char *)mbi->cmdline;

		for (i = 0; i < MAX_CMDLINE - 1 && s[i]; i++)
			cmdline[i] = s[i];
		parse_cmdline(cmdline, &p);
	}
	if (mbi->flags & 1u)
		mem_mib = (mbi->mem_upper + 1024) / 1024;
	if (!p.report_ms)
		p.report_ms = 1000;
	if (mem_mib && p.wss_mib + WSS_BASE / (1024 * 1024) > mem_mib) {
		put_kv("lm-guest: error: wss=", p.wss_mib);
		put_kv(" MiB does not fit: guest RAM is ", mem_mib);
		put_kv(" MiB and the working set starts at ", WSS_BASE / (1024 * 1024));
		puts_serial(" MiB; give QEMU a larger -m\n");
		return;
	}
	npages = p.wss_mib * (1024 * 1024 / PAGE_SIZE);

	puts_serial("lm-guest: config");
	put_kv(" wss_mib=", p.wss_mib);
	put_kv(" wss_pages=", npages);
	puts_serial(" rate_pages_s=");
	if (p.rate_max)
		puts_serial("max");
	else
		put_u64((uint64_t)p.rate_mib * (1024 * 1024 / PAGE_SIZE));
	puts_serial(p.random ? " pattern=random" : " pattern=seq");
	puts_serial(p.spin ? " pace=spin" : " pace=hlt");
	put_kv(" mem_mib=", mem_mib);
	put_kv(" tsc_khz=", tsc_per_ms);
	puts_serial(" clock=");
	puts_serial(clock_source);
	putc_serial('\n');

	interrupts_init(p.spin);
	t0 = now_us();
	for (i = 0; i < npages; i++)
		base[i * PAGE_SIZE] = 1;
	put_kv("lm-guest: filled ", npages);
	put_kv(" pages in ", (now_us() - t0) / 1000);
	puts_serial(" ms\n");
	run(&p, npages ? npages : 1);
}
