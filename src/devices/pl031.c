// SPDX-License-Identifier: MIT
/*
 * PL031 RTC.  The match interrupt is not implemented: Linux reads and sets
 * the time through it, which is all a guest needs to start with the right
 * date.  The PrimeCell ID registers must read right or the AMBA bus will
 * not bind the driver.
 */
#include <string.h>
#include <time.h>

#include "devices/pl031.h"

enum {
	RTC_DR = 0x00, RTC_MR = 0x04, RTC_LR = 0x08, RTC_CR = 0x0c,
	RTC_IMSC = 0x10, RTC_RIS = 0x14, RTC_MIS = 0x18, RTC_ICR = 0x1c,
	RTC_ID = 0xfe0,
};

static const uint8_t pl031_id[8] = {
	0x31, 0x10, 0x14, 0x00,		/* PeriphID0..3 */
	0x0d, 0xf0, 0x05, 0xb1,		/* PCellID0..3 */
};

static uint32_t now(void)
{
	return (uint32_t)time(NULL);
}

void pl031_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		bool is_write)
{
	struct pl031 *rtc = dev;
	uint32_t v = 0;

	if (is_write) {
		memcpy(&v, data, len < 4 ? len : 4);
		pthread_mutex_lock(&rtc->lock);
		switch (offset) {
		case RTC_MR: rtc->match = v; break;
		case RTC_LR: rtc->offset = (int64_t)v - (int64_t)now(); break;
		case RTC_CR: rtc->control = v & 1; break;
		case RTC_IMSC: rtc->imsc = v & 1; break;
		default: break;
		}
		pthread_mutex_unlock(&rtc->lock);
		return;
	}
	pthread_mutex_lock(&rtc->lock);
	switch (offset) {
	case RTC_DR: v = (uint32_t)((int64_t)now() + rtc->offset); break;
	case RTC_MR: v = rtc->match; break;
	case RTC_LR: v = (uint32_t)((int64_t)now() + rtc->offset); break;
	case RTC_CR: v = 1; break;	/* always running */
	case RTC_IMSC: v = rtc->imsc; break;
	default:
		if (offset >= RTC_ID && offset < RTC_ID + 0x20)
			v = pl031_id[(offset - RTC_ID) / 4];
		break;
	}
	pthread_mutex_unlock(&rtc->lock);
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

void pl031_init(struct pl031 *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->control = 1;
}
